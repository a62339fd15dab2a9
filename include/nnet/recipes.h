// The book's experiments as named recipes: `nnet book NAME` runs `nnet train` with their flags.
#pragma once

#include <string>
#include <vector>

namespace nnet {

struct Recipe {
  std::string name;               // e.g. "ch3-overfitting"
  std::string experiment;         // what the book ran, in one line
  std::string book_figure;        // what the book reports (50,000 training images unless noted)
  std::vector<std::string> args;  // `nnet train` flags, each flag followed by its value(s)
  int ensemble = 0;  // > 0: train this many nets (seeds 1..N), save each, then vote (conv.py)
};

// Every recipe, in the book's order.
const std::vector<Recipe>& book_recipes();

// The recipe called `name`, or null.
const Recipe* find_recipe(const std::string& name);

// Merges `overrides` (flags as typed after the recipe name, "--flag value" or "--flag=value")
// into the recipe's flags: an override replaces the recipe's flag of the same name.
std::vector<std::string> merge_flags(const std::vector<std::string>& recipe,
                                     const std::vector<std::string>& overrides);

}  // namespace nnet
