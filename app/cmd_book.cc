// `nnet book`: the book's experiments by name. `--list` shows them with the figures the book
// reports; `nnet book NAME [flags]` runs `nnet train` with the recipe's flags, any given flag
// replacing the recipe's.
#include <cstdio>
#include <cstdlib>

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

// Runs `argv` (a subcommand and its flags) exactly as if typed; `add` registers the subcommand.
int run_as_typed(void (*add)(CLI::App&, int*), std::vector<std::string> argv,
                 const std::string& recipe, int* exit_code) {
  CLI::App inner{"nnet"};
  inner.require_subcommand(1);
  add(inner, exit_code);
  std::vector<std::string> reversed(argv.rbegin(), argv.rend());  // CLI11 wants them reversed
  try {
    inner.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return fail(UsageError("book " + recipe + ": " + e.what()));
  }
  return *exit_code;
}

// The value of `flag` in a flag list, or "" when absent.
std::string flag_value(const std::vector<std::string>& args, const std::string& flag) {
  std::string v;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == flag && i + 1 < args.size()) v = args[i + 1];
    if (args[i].rfind(flag + "=", 0) == 0) v = args[i].substr(flag.size() + 1);
  }
  return v;
}

// An ensemble recipe: trains r.ensemble nets (seeds seed..seed+N-1, default 1..N), saves each as
// NAME-K.json, then votes with `nnet eval --model ...` on the same data.
int run_ensemble(const Recipe& r, const std::vector<std::string>& args, int* exit_code) {
  if (!flag_value(args, "--save").empty())
    return fail(
        UsageError("book " + r.name + ": --save: the ensemble saves " + r.name + "-K.json itself"));
  const std::string seed_flag = flag_value(args, "--seed");
  char* end = nullptr;
  const long seed0 = seed_flag.empty() ? 1 : std::strtol(seed_flag.c_str(), &end, 10);
  if (!seed_flag.empty() && (*end != '\0' || seed0 < 0 || seed0 > 4294967295L - r.ensemble))
    return fail(UsageError("book " + r.name + ": --seed: expected an unsigned integer, found '" +
                           seed_flag + "'"));
  std::vector<std::string> eval{"eval"};
  for (int k = 1; k <= r.ensemble; ++k) {
    const std::string model = r.name + "-" + std::to_string(k) + ".json";
    std::vector<std::string> train{"train"};
    const auto member =
        merge_flags(args, {"--seed", std::to_string(seed0 + k - 1), "--save", model});
    train.insert(train.end(), member.begin(), member.end());
    std::fprintf(stderr, "nnet book %s: net %d of %d: nnet %s\n", r.name.c_str(), k, r.ensemble,
                 join(train).c_str());
    const int code = run_as_typed(add_train_command, train, r.name, exit_code);
    if (code != 0) return code;
    eval.insert(eval.end(), {"--model", model});
  }
  const std::string data = flag_value(args, "--data");
  if (!data.empty()) eval.insert(eval.end(), {"--data", data});
  const std::string device = flag_value(args, "--device");
  if (!device.empty()) eval.insert(eval.end(), {"--device", device});
  std::fprintf(stderr, "nnet book %s: nnet %s\n", r.name.c_str(), join(eval).c_str());
  return run_as_typed(add_eval_command, eval, r.name, exit_code);
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
  if (r->ensemble > 0) return run_ensemble(*r, args, exit_code);
  std::fprintf(stderr, "nnet book %s: nnet train %s\n", r->name.c_str(), join(args).c_str());
  std::vector<std::string> argv{"train"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_as_typed(add_train_command, argv, r->name, exit_code);
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
