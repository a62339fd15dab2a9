// Each subcommand registers itself on the top-level CLI::App; its callback stores the exit code.
#pragma once

#include <CLI/CLI.hpp>

namespace nnet::app {

void add_train_command(CLI::App& app, int* exit_code);
void add_eval_command(CLI::App& app, int* exit_code);
void add_book_command(CLI::App& app, int* exit_code);
void add_show_command(CLI::App& app, int* exit_code);
void add_plot_command(CLI::App& app, int* exit_code);
void add_predict_command(CLI::App& app, int* exit_code);
void add_serve_command(CLI::App& app, int* exit_code);

// Parses argv and runs the chosen subcommand; returns the exit code.
int run_cli(int argc, char** argv);

}  // namespace nnet::app
