// Each subcommand registers itself on the top-level CLI::App; its callback stores the exit code.
#pragma once

#include <CLI/CLI.hpp>
#include <vector>

#include "nnet/recipes.h"

namespace nnet::app {

void add_train_command(CLI::App& app, int* exit_code);
// `nnet train` with `preset` applied to the run's options, each as if its flag were typed
// (`nnet book`: a recipe's settings; flags typed replace them).
void add_train_command(CLI::App& app, int* exit_code, const std::vector<RecipeSetting>& preset);
void add_eval_command(CLI::App& app, int* exit_code);
void add_book_command(CLI::App& app, int* exit_code);
void add_show_command(CLI::App& app, int* exit_code);
void add_plot_command(CLI::App& app, int* exit_code);
void add_predict_command(CLI::App& app, int* exit_code);
void add_serve_command(CLI::App& app, int* exit_code);

// Parses argv and runs the chosen subcommand; returns the exit code.
int run_cli(int argc, char** argv);

}  // namespace nnet::app
