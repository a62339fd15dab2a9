// The book's activations, costs and weight initialisations, and their names as the command line
// and model files spell them ("sigmoid", "cross-entropy", "large").
#pragma once

#include <string>

namespace nnet {

enum class Activation { kSigmoid, kTanh, kRelu, kSoftmax, kLinear };
enum class Cost { kQuadratic, kCrossEntropy, kLogLikelihood };
// kNetwork3: network3.py's initialisation (see init_params in network.h).
enum class Init { kLarge, kDefault, kXavier, kHe, kNetwork3 };

const char* name(Activation a);
const char* name(Cost c);
const char* name(Init i);
// Each parses a name into *out; false (and *out untouched) when `s` is not one.
bool parse_activation(const std::string& s, Activation* out);
bool parse_cost(const std::string& s, Cost* out);
bool parse_init(const std::string& s, Init* out);

}  // namespace nnet
