// The book's experiments as named recipes: `nnet book NAME` trains with their options.
#pragma once

#include <string>
#include <type_traits>
#include <vector>

#include "nnet/run.h"

namespace nnet {

// One option a recipe sets: a member of RunOptions (an entry of run_options()) and its value.
struct RecipeSetting {
  OptionField field;
  OptionValue value;
};

// A setting whose value has the member's type (checked by the compiler).
template <class T>
RecipeSetting setting(T RunOptions::*field, std::type_identity_t<T> value) {
  return {field, OptionValue(std::move(value))};
}

struct Recipe {
  std::string name;                   // e.g. "ch3-overfitting"
  std::string experiment;             // what the book ran, in one line
  std::string book_figure;            // what the book reports (50,000 training images unless noted)
  std::vector<RecipeSetting> settings;  // typed overrides of RunOptions' defaults, in order
  int ensemble = 0;  // > 0: train this many nets (seeds 1..N), save each, then vote (conv.py)
};

// Every recipe, in the book's order.
const std::vector<Recipe>& book_recipes();

// The recipe called `name`, or null.
const Recipe* find_recipe(const std::string& name);

// The table entry a setting is for.
const OptionInfo& setting_option(const RecipeSetting& s);

// The options a recipe trains with: the defaults with its settings applied.
RunOptions recipe_options(const Recipe& r);

// Whether the recipe sets `option` (an option name).
bool recipe_sets(const Recipe& r, const std::string& option);

// Merges `overrides` (flags as typed, "--flag value" or "--flag=value") into `base` (flags): an
// override replaces the flag of the same name.
std::vector<std::string> merge_flags(const std::vector<std::string>& base,
                                     const std::vector<std::string>& overrides);

}  // namespace nnet
