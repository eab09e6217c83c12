#include "passwd_command.hpp"

#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <variant>

#include "assay/broker/security/password_file.hpp"

namespace assay::tools {

namespace {

using broker::security::PasswordFile;
using broker::security::PasswordFileError;
using broker::security::PasswordHash;

// The file's text, or nullopt with `error` set; a missing file is "" when
// `missing_ok`.
std::optional<std::string> read_text(const std::string& path, bool missing_ok, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (missing_ok) return std::string{};
    error = path + ": " + std::strerror(errno) +
            (errno == ENOENT ? " (use -c to create the file)" : "");
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Writes `text` to a temporary file beside `path`, flushes it to disk and
// renames it over `path`: a reader (the broker reloading on SIGHUP) sees the
// old file or the new one, never half of one.
bool write_atomically(const std::string& path, const std::string& text, std::string& error) {
  mode_t mode = S_IRUSR | S_IWUSR;
  struct stat existing {};
  if (::stat(path.c_str(), &existing) == 0) mode = existing.st_mode & 07777;
  std::string temporary = path + ".XXXXXX";
  const int fd = ::mkstemp(temporary.data());
  if (fd < 0) {
    error = temporary + ": " + std::strerror(errno);
    return false;
  }
  bool ok = ::fchmod(fd, mode) == 0;
  for (std::size_t done = 0; ok && done < text.size();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<std::size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  const int saved = errno;
  ok = ::close(fd) == 0 && ok;
  if (ok && ::rename(temporary.c_str(), path.c_str()) == 0) return true;
  error = path + ": cannot write: " + std::strerror(ok ? errno : saved);
  ::unlink(temporary.c_str());
  return false;
}

// Reads a line from the terminal with echo off; nullopt at end of input.
std::optional<std::string> read_secret(const char* prompt) {
  std::cerr << prompt << std::flush;
  termios saved{};
  const bool terminal = ::tcgetattr(STDIN_FILENO, &saved) == 0;
  if (terminal) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  std::string line;
  const bool got = static_cast<bool>(std::getline(std::cin, line));
  if (terminal) {
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    std::cerr << '\n';
  }
  if (!got) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace

int run_passwd(const PasswdOptions& o, std::ostream& err) {
  if (const auto bad = broker::security::check_user_name(o.user)) {
    err << "assay passwd: user \"" << o.user << "\": " << *bad << '\n';
    return 1;
  }
  std::string error;
  const std::optional<std::string> text =
      o.create ? std::string{} : read_text(o.file, false, error);
  if (!text) {
    err << "assay passwd: " << error << '\n';
    return 1;
  }
  auto parsed = PasswordFile::parse(*text);
  if (const auto* e = std::get_if<PasswordFileError>(&parsed)) {
    err << "assay passwd: " << o.file << ':' << e->line << ": " << e->message << '\n';
    return 1;
  }
  PasswordFile file = std::get<PasswordFile>(std::move(parsed));
  if (o.remove) {
    if (!file.erase(o.user)) {
      err << "assay passwd: " << o.file << ": no user \"" << o.user << "\"\n";
      return 1;
    }
  } else {
    if (!o.password || o.password->empty()) {
      err << "assay passwd: the password is empty\n";
      return 1;
    }
    if (o.scram) {
      const std::uint32_t iterations = o.iterations != 0 ? o.iterations : scram::default_iterations;
      if (iterations < scram::minimum_iterations) {
        err << "assay passwd: --iterations " << iterations << ": SCRAM needs at least "
            << scram::minimum_iterations << " (RFC 7677)\n";
        return 1;
      }
      file.set(o.user, PasswordHash::make_scram(*o.password, iterations));
    } else {
      const std::uint32_t iterations =
          o.iterations != 0 ? o.iterations : PasswordHash::default_iterations;
      file.set(o.user, PasswordHash::make(*o.password, iterations));
    }
  }
  if (!write_atomically(o.file, file.text(), error)) {
    err << "assay passwd: " << error << '\n';
    return 1;
  }
  return 0;
}

void add_passwd_command(CLI::App& app) {
  struct Args {
    PasswdOptions options;
    std::string batch_password;
    bool from_stdin = false;
    bool batch = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "passwd",
      "Add, change or delete a user in a broker password file (the format mosquitto_passwd "
      "writes; \"password_file\" in the broker's configuration). Asks for the password twice "
      "on the terminal unless -b or --stdin gives it. The broker reads the file again on "
      "SIGHUP.");
  cmd->footer(
      "Examples:\n"
      "  assay passwd -c passwd alice              a new file with alice (asks twice)\n"
      "  assay passwd passwd bob                   add bob, or change his password\n"
      "  echo \"$PW\" | assay passwd --stdin passwd bob   the password from a script\n"
      "  assay passwd --scram passwd carol         carol may log in with SCRAM-SHA-256\n"
      "                                            (MQTT 5.0 enhanced authentication) or\n"
      "                                            a plain password; mosquitto cannot\n"
      "                                            read such a line\n"
      "  assay passwd -D passwd bob                delete bob\n"
      "Exit code 0 when the file was written, 1 on an error (which names the file,\n"
      "its line, or the user).");
  PasswdOptions& o = args->options;
  cmd->add_option("file", o.file, "The password file")->required();
  cmd->add_option("user", o.user, "The user name (no ':' and no line breaks)")->required();
  cmd->add_option("password", args->batch_password,
                  "With -b: the password (visible to other users in ps; prefer --stdin)");
  auto* create =
      cmd->add_flag("-c,--create", o.create, "Start a new file, replacing any file there");
  auto* remove = cmd->add_flag("-D,--delete", o.remove, "Delete USER from the file");
  auto* batch = cmd->add_flag("-b,--batch", args->batch, "Take the password from the command line");
  auto* in = cmd->add_flag("--stdin", args->from_stdin,
                           "Read the password from the first line of standard input");
  cmd->add_option("--iterations", o.iterations,
                  "PBKDF2 iterations (default " + std::to_string(PasswordHash::default_iterations) +
                      "; each first login costs the broker one hash)")
      ->check(CLI::Range(1000, 10'000'000));
  auto* scram_flag = cmd->add_flag(
      "--scram", o.scram,
      "Store a SCRAM-SHA-256 credential, so that the user can log in with MQTT 5.0 enhanced "
      "authentication (assay pub/sub --auth scram-sha-256) as well as with a plain password");
  remove->excludes(create)->excludes(batch)->excludes(in)->excludes(scram_flag);
  batch->excludes(in);
  cmd->callback([args, cmd] {
    PasswdOptions options = args->options;
    const bool batch_mode = args->batch;
    if (batch_mode != !args->batch_password.empty()) {
      std::cerr << "assay passwd: "
                << (batch_mode ? "-b needs PASSWORD after USER" : "PASSWORD is only given with -b")
                << "\n\n"
                << cmd->help();
      throw CLI::RuntimeError(1);
    }
    if (batch_mode) {
      options.password = args->batch_password;
    } else if (!options.remove && args->from_stdin) {
      std::string line;
      if (!std::getline(std::cin, line)) {
        std::cerr << "assay passwd: --stdin: no password on standard input\n";
        throw CLI::RuntimeError(1);
      }
      if (!line.empty() && line.back() == '\r') line.pop_back();
      options.password = line;
    } else if (!options.remove) {
      if (::isatty(STDIN_FILENO) == 0) {
        std::cerr << "assay passwd: standard input is not a terminal: give the password "
                     "with --stdin (or -b)\n";
        throw CLI::RuntimeError(1);
      }
      const auto first = read_secret("Password: ");
      const auto second = first ? read_secret("Reenter password: ") : std::nullopt;
      if (!first || !second || *first != *second) {
        std::cerr << "assay passwd: the passwords do not match\n";
        throw CLI::RuntimeError(1);
      }
      options.password = first;
    }
    if (const int code = run_passwd(options, std::cerr); code != 0) {
      throw CLI::RuntimeError(code);
    }
  });
}

}  // namespace assay::tools
