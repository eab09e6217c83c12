// RFC 7677's worked example (§3): user "user", password "pencil", its
// nonces, salt and the four messages, for the unit tests and the fuzz target.
#pragma once

#include <string_view>

namespace assay::scram::rfc7677 {

inline constexpr std::string_view client_nonce = "rOprNGfwEbeRWgbNEkqO";
inline constexpr std::string_view server_nonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
inline constexpr std::string_view salt = "W22ZaJ0SNY7soEsUEjb6gQ==";
inline constexpr std::string_view client_first = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
inline constexpr std::string_view server_first =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
inline constexpr std::string_view client_final =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+"
    "Ute9ytag9zjfMHgsqmmiz7AndVQ=";
inline constexpr std::string_view server_final = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

}  // namespace assay::scram::rfc7677
