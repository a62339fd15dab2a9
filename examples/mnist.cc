// The book's chapter-1 notebook in C++ through nnet's public API: Network([784, 30, 10]), then
// SGD(training_data, 30, 10, 3.0, test_data=test_data), printing "Epoch j: c / n" per epoch.
// Usage: mnist [DATA [EPOCHS [TRAIN_SIZE]]]; DATA defaults to where `nnet train` looks.
#include <nnet/data.h>
#include <nnet/train.h>

#include <cstdio>
#include <cstdlib>
#include <string>

static int report(const nnet::Status& s) {
  if (!s.ok()) std::fprintf(stderr, "mnist: %s\n", s.message().c_str());
  return s.exit_code();
}

int main(int argc, char** argv) {
  nnet::DataSplits data;
  const std::string path = argc > 1 ? argv[1] : nnet::default_data_path();
  if (nnet::Status s = nnet::load_data(path, {}, &data); !s.ok()) return report(s);
  if (argc > 3) data.training = nnet::head(std::move(data.training), std::atol(argv[3]));
  nnet::Network net(nnet::sigmoid_architecture({784, 30, 10}));  // quadratic cost
  nnet::init_params(net, nnet::Init::kLarge, /*seed=*/1);        // N(0, 1) as np.random.randn
  nnet::TrainOptions opts;                                       // batch 10, reshuffled
  opts.epochs = argc > 2 ? std::atoi(argv[2]) : 30;
  opts.eta = 3.0;
  nnet::TrainCallbacks callbacks;
  callbacks.on_epoch = [](const nnet::EpochReport& r) {
    std::printf("Epoch %d: %ld / %ld\n", r.epoch, r.evaluation_correct, r.evaluation_total);
  };
  nnet::TrainState state = nnet::initial_state(net, data.training.size(), opts);
  return report(nnet::train(net, data.training, &data.test, opts, callbacks, &state));
}
