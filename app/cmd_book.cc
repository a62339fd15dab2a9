// `nnet book`: the book's experiments by name. `--list` shows them with the figures the book
// reports; `nnet book NAME [flags]` runs `nnet train` with the recipe's flags, any given flag
// replacing the recipe's.
#include <cstdio>

#include "commands.h"
#include "common.h"
#include "nnet/recipes.h"

namespace nnet::app {

namespace {

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& a : v) s += (s.empty() ? "" : " ") + a;
  return s;
}

void print_list() {
  std::printf("%-18s  %-43s  %s\n", "recipe", "book reports", "experiment");
  for (const Recipe& r : book_recipes())
    std::printf("%-18s  %-43s  %s\n", r.name.c_str(), r.book_figure.c_str(), r.experiment.c_str());
  std::printf("\nrun one: nnet book NAME [--data D] [any nnet train flag to override]\n");
  std::printf("(the book trained on 50,000 images; see docs/book.md for what nnet gets)\n");
}

int run_book(bool list, const std::vector<std::string>& rest, int* exit_code) {
  if (list) {
    print_list();
    return 0;
  }
  if (rest.empty()) return fail(UsageError("book: expected a recipe name or --list"));
  const Recipe* r = find_recipe(rest[0]);
  if (!r) {
    std::string names;
    for (const Recipe& x : book_recipes()) names += (names.empty() ? "" : ", ") + x.name;
    return fail(
        UsageError("book: expected a recipe name (" + names + "), found '" + rest[0] + "'"));
  }
  const std::vector<std::string> args =
      merge_flags(r->args, std::vector<std::string>(rest.begin() + 1, rest.end()));
  std::fprintf(stderr, "nnet book %s: nnet train %s\n", r->name.c_str(), join(args).c_str());
  // Run the train command exactly as if typed; CLI11 wants the arguments in reverse order.
  CLI::App inner{"nnet"};
  inner.require_subcommand(1);
  add_train_command(inner, exit_code);
  std::vector<std::string> argv{"train"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> reversed(argv.rbegin(), argv.rend());
  try {
    inner.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return fail(UsageError(std::string("book ") + r->name + ": " + e.what()));
  }
  return *exit_code;
}

}  // namespace

void add_book_command(CLI::App& app, int* exit_code) {
  auto list = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "book", "the book's experiments: nnet book --list; nnet book NAME [train flags]");
  cmd->add_flag("--list", *list, "list the recipes with the figures the book reports");
  // Everything from the recipe name on is left for run_book (train flags are parsed there).
  cmd->prefix_command();
  cmd->callback([cmd, list, exit_code] {
    const int code = run_book(*list, cmd->remaining(), exit_code);
    *exit_code = code;
  });
}

}  // namespace nnet::app
