#include "run_flags.h"

#include <type_traits>
#include <vector>

#include "nnet/run_json.h"

namespace nnet::app {

namespace {

// "on|off" -> {"on", "off"}: the words for true and false.
std::pair<std::string, std::string> valued_words(const OptionInfo& o) {
  const std::string v = o.flag_values;
  const size_t bar = v.find('|');
  return {v.substr(0, bar), v.substr(bar + 1)};
}

void add_run_flag(CLI::App* cmd, const OptionInfo& o, RunFlags* f) {
  const std::string flag = flag_spelling(o);
  RunOptions* run = &f->run;
  std::visit(
      [&](auto RunOptions::*field) {
        using V = std::remove_reference_t<decltype(run->*field)>;
        if constexpr (std::is_same_v<V, bool>) {
          if (o.flag_values) {
            const auto [yes, no] = valued_words(o);
            std::string& text = f->valued[o.name];
            text = run->*field ? yes : no;
            cmd->add_option(flag, text, std::string(o.doc) + ": " + yes + " or " + no)
                ->capture_default_str();
          } else if (o.negation) {
            cmd->add_flag_callback(flag, [run, field] { run->*field = false; }, o.negation_doc);
          } else {
            cmd->add_flag(flag, run->*field, o.doc);
          }
        } else {
          CLI::Option* opt = cmd->add_option(flag, run->*field, o.doc);
          if constexpr (std::is_same_v<V, std::vector<int>> ||
                        std::is_same_v<V, std::vector<std::string>>)
            opt->delimiter(',');
          if (!option_text(run->*field).empty()) opt->capture_default_str();
        }
      },
      o.field);
}

}  // namespace

Given given_in(const CLI::App& cmd, const RunFlags& f) {
  return [&cmd, &f](const char* option) {
    const OptionInfo* o = find_option(option);
    return (o && (o->uses & kFlag) && cmd.count(flag_spelling(*o)) > 0) ||
           f.preset.count(option) > 0;
  };
}

void add_run_flags(CLI::App* cmd, RunFlags* f) {
  for (const OptionInfo& o : run_options())
    if (o.uses & kFlag) add_run_flag(cmd, o, f);
}

Status read_valued_flags(RunFlags* f) {
  for (const auto& [option, text] : f->valued) {
    const OptionInfo* o = find_option(option);
    const auto [yes, no] = valued_words(*o);
    if (text != yes && text != no)
      return UsageError(flag_spelling(*o) + ": expected " + yes + " or " + no + ", found '" +
                        text + "'");
    set_option(&f->run, *o, OptionValue(text == yes));
  }
  return Status::Ok();
}

std::vector<std::string> value_flags(const OptionInfo& o, const OptionValue& v) {
  const std::string flag = flag_spelling(o);
  const bool* b = std::get_if<bool>(&v);
  if (!b) return {flag, option_text(v)};
  if (o.flag_values) {
    const auto [yes, no] = valued_words(o);
    return {flag, *b ? yes : no};
  }
  if (o.negation ? !*b : *b) return {flag};
  return {};
}

Status with_flags(const Status& s) {
  return respell_option(
      s, [](const OptionInfo& o) { return o.uses & kFlag ? flag_spelling(o) : std::string(); });
}

Status apply_saved_options(const std::string& where, const Value& saved, const Given& given,
                           RunOptions* run) {
  for (const OptionInfo& o : run_options()) {
    if (!(o.uses & kCheckpointed)) continue;
    const std::string key = checkpoint_key(o), flag = flag_spelling(o);
    const Value* it = saved.find(key);
    // Checkpoints written before an option existed lack its key: those runs had the default
    // of then, RunOptions' (not a front end's own, such as nnet-mpi's --grad-chunk).
    if (!it && o.newer && !given(o.name)) {
      set_option(run, o, get_option(RunOptions(), o));
      continue;
    }
    if (!it) return DataError(where + ": the checkpoint's options lack \"" + key + "\"");
    if (given(o.name)) {
      const Value now = checkpoint_value(*run, o);
      if (!o.may_change && now != *it)
        return UsageError(where + ": " + flag + " " + now.dump() + " differs from the checkpoint's " +
                          it->dump() + " (a resumed run keeps its options; omit the flag)");
      continue;
    }
    if (!set_checkpoint_value(run, o, *it))
      return DataError(where + ": the checkpoint's \"" + key + "\" is " + it->dump() +
                       ", not a valid " + flag + " value");
  }
  return Status::Ok();
}

}  // namespace nnet::app
