// nnet: train, evaluate and inspect neural networks on MNIST-style digits.
#include "commands.h"

int main(int argc, char** argv) { return nnet::app::run_cli(argc, argv); }
