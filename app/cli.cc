// The nnet command line, shared by nnet (main.cc) and nnet-mpi (mpi_main.cc).
#include <CLI/CLI.hpp>
#include <cstdio>

#include "commands.h"

namespace nnet::app {

int run_cli(int argc, char** argv) {
  CLI::App app{
      "nnet: train neural networks on MNIST-style digits (a fast port of the book "
      "\"Neural Networks and Deep Learning\")"};
  app.require_subcommand(1);
  app.failure_message(
      [](const CLI::App*, const CLI::Error& e) { return std::string(e.what()) + "\n"; });
  int exit_code = 0;
  add_train_command(app, &exit_code);
  add_eval_command(app, &exit_code);
  add_book_command(app, &exit_code);
  add_show_command(app, &exit_code);
  add_plot_command(app, &exit_code);
  add_predict_command(app, &exit_code);
  add_serve_command(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "nnet: %s (see nnet --help)\n", e.what());
    return 2;  // usage error
  }
  return exit_code;
}

}  // namespace nnet::app
