// One function per `ferry` subcommand; each returns the process exit status.
#pragma once

#include <span>

namespace ferry {

int RunCommand(std::span<char* const> args);
int StatusCommand(std::span<char* const> args);
int SnapshotCommand(std::span<char* const> args);
int RestoreCommand(std::span<char* const> args);
int ReceiveCommand(std::span<char* const> args);
int MigrateCommand(std::span<char* const> args);
// pause, resume and stop: `verb` is the control-protocol command.
int SimpleControlCommand(const char* verb, std::span<char* const> args);

}  // namespace ferry
