#include "client/spec/check.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/spec/recipe.h"
#include "common/atomic_file.h"
#include "common/canonical_json.h"
#include "common/status_macros.h"

namespace cohort::client {
namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;
using json = nlohmann::json;

constexpr size_t kMaxMetadataBytes = 64u << 20;
constexpr uintmax_t kMaxConfigBytes = 64u << 20;

// ---------------------------------------------------------------------------
// The streaming scan of a JSON file's top level.

class ByteReader {
 public:
  ByteReader(std::FILE* file, std::string name) : file_(file), name_(std::move(name)) {}
  ~ByteReader() { std::fclose(file_); }

  // The next byte, or -1 at the end of the file.
  int Peek() {
    if (pos_ == end_ && !Fill()) return -1;
    return static_cast<unsigned char>(buffer_[pos_]);
  }
  int Get() {
    int c = Peek();
    if (c >= 0) {
      ++pos_;
      ++offset_;
    }
    return c;
  }
  uint64_t offset() const { return offset_; }
  bool io_error() const { return io_error_; }
  const std::string& name() const { return name_; }

  absl::Status Error(const std::string& what) const {
    return absl::InvalidArgumentError(absl::StrCat(
        name_, ": ", io_error_ ? "read error" : what, " at byte ", offset_));
  }

 private:
  bool Fill() {
    size_t n = std::fread(buffer_.get(), 1, kSize, file_);
    if (n == 0 && std::ferror(file_)) io_error_ = true;
    pos_ = 0;
    end_ = n;
    return n > 0;
  }

  static constexpr size_t kSize = 1 << 20;
  std::FILE* file_;
  std::string name_;
  std::unique_ptr<char[]> buffer_{new char[kSize]};
  size_t pos_ = 0, end_ = 0;
  uint64_t offset_ = 0;
  bool io_error_ = false;
};

bool IsSpace(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

void SkipSpace(ByteReader& in) {
  while (IsSpace(in.Peek())) in.Get();
}

// Appends `c` to `capture` (when capturing), refusing past the cap.
absl::Status Keep(ByteReader& in, std::string* capture, int c) {
  if (capture == nullptr) return absl::OkStatus();
  if (capture->size() >= kMaxMetadataBytes) {
    return in.Error(absl::StrCat("\"metadata\" is larger than ", kMaxMetadataBytes >> 20,
                                 " MiB"));
  }
  capture->push_back(static_cast<char>(c));
  return absl::OkStatus();
}

// The rest of a string after its opening quote, with the closing quote.
absl::Status ScanString(ByteReader& in, std::string* capture) {
  bool escaped = false;
  while (true) {
    int c = in.Get();
    if (c < 0) return in.Error("the file ends inside a string");
    COHORT_RETURN_IF_ERROR(Keep(in, capture, c));
    if (escaped) {
      escaped = false;
    } else if (c == '\\') {
      escaped = true;
    } else if (c == '"') {
      return absl::OkStatus();
    }
  }
}

// One value (object, array, string or scalar), captured or skipped. Nesting
// is counted, not recursed into; whether brackets match is left to the parse
// of what is captured (and to the step that reads the rest).
absl::Status ScanValue(ByteReader& in, std::string* capture) {
  int c = in.Peek();
  if (c < 0) return in.Error("the file ends where a value should be");
  if (c == '"') {
    in.Get();
    COHORT_RETURN_IF_ERROR(Keep(in, capture, c));
    return ScanString(in, capture);
  }
  if (c == '{' || c == '[') {
    int64_t depth = 0;
    do {
      c = in.Get();
      if (c < 0) return in.Error("the file ends inside an object or a list");
      COHORT_RETURN_IF_ERROR(Keep(in, capture, c));
      if (c == '"') {
        COHORT_RETURN_IF_ERROR(ScanString(in, capture));
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        --depth;
      }
    } while (depth > 0);
    return absl::OkStatus();
  }
  // A number, true, false, null, or Python's NaN / Infinity.
  size_t taken = 0;
  while ((c = in.Peek()) >= 0 && !IsSpace(c) && c != ',' && c != '}' && c != ']') {
    in.Get();
    COHORT_RETURN_IF_ERROR(Keep(in, capture, c));
    ++taken;
  }
  if (taken == 0) return in.Error(absl::StrCat("unexpected '", std::string(1, c), "'"));
  return absl::OkStatus();
}

// Python's json writes NaN, Infinity and -Infinity bare; nlohmann does not
// read them. They become null outside strings (no check uses them).
std::string WithoutPythonNumbers(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false, escaped = false;
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else {
      bool replaced = false;
      for (absl::string_view word : {"-Infinity", "Infinity", "NaN"}) {
        if (absl::string_view(text).substr(i, word.size()) == word) {
          out += "null";
          i += word.size();
          replaced = true;
          break;
        }
      }
      if (replaced) continue;
    }
    out.push_back(c);
    ++i;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Reading the inputs.

// A path as the spec's reader knows it: relative to the spec's folder when
// it is under it.
std::string Display(const Spec& spec, const std::string& path) {
  std::error_code ec;
  fs::path base = fs::absolute(spec.source, ec).parent_path();
  if (ec) return path;
  fs::path rel = fs::path(path).lexically_relative(base);
  if (rel.empty() || *rel.begin() == "..") return path;
  return rel.string();
}

absl::Status InputError(const InputRef& ref, const std::string& what) {
  return absl::InvalidArgumentError(ref.where.Prefix() + what);
}

// A local input the check can read: a path that exists. A digest-only input
// and a missing path (ResolveInputs reports it) are skipped.
bool Readable(const InputRef& ref) {
  std::error_code ec;
  return !ref.path.empty() && fs::exists(ref.path, ec);
}

std::optional<int64_t> PositiveInt(const ojson& object, const char* key) {
  if (!object.is_object() || !object.contains(key)) return std::nullopt;
  const ojson& v = object[key];
  if (v.is_number_unsigned() || v.is_number_integer()) {
    int64_t n = v.get<int64_t>();
    if (n > 0) return n;
  }
  return std::nullopt;
}

// Whether `scope` says some layers have no MoE block; the key when it does.
std::optional<std::string> DenseHint(const ojson& scope) {
  if (!scope.is_object()) return std::nullopt;
  struct Hint {
    const char* key;
    int64_t moe_everywhere;  // the value that means every layer is MoE
    bool at_least;           // a value <= moe_everywhere also means it
  };
  for (const Hint& h : {Hint{"first_k_dense_replace", 0, true},
                        Hint{"decoder_sparse_step", 1, true},
                        Hint{"moe_layer_freq", 1, false},
                        Hint{"interleave_moe_layer_step", 1, true},
                        Hint{"expert_layer_period", 1, true},
                        Hint{"moe_layer_start_index", 0, true},
                        Hint{"moe_layer_interval", 1, true}}) {
    if (!scope.contains(h.key) || scope[h.key].is_null()) continue;
    const ojson& v = scope[h.key];
    if (!v.is_number_integer() && !v.is_number_unsigned()) {
      return absl::StrCat(h.key, " = ", v.dump());
    }
    int64_t n = v.get<int64_t>();
    if (n == h.moe_everywhere || (h.at_least && n < h.moe_everywhere)) continue;
    return absl::StrCat(h.key, " = ", n);
  }
  if (scope.contains("mlp_only_layers") && !scope["mlp_only_layers"].is_null()) {
    const ojson& v = scope["mlp_only_layers"];
    if (!v.is_array() || !v.empty()) return absl::StrCat("mlp_only_layers = ", v.dump());
  }
  return std::nullopt;
}

struct Inputs {
  std::optional<ModelShape> model;
  std::string model_name;  // config.json as the spec's reader knows it
  std::optional<ContribShape> contrib;
  std::string contrib_name;
};

absl::StatusOr<std::optional<ContribShape>> ReadContrib(const Spec& spec,
                                                        const InputRef& ref,
                                                        std::string* name) {
  if (!Readable(ref)) return std::optional<ContribShape>();
  *name = Display(spec, ref.path);
  std::error_code ec;
  if (!fs::is_regular_file(ref.path, ec)) {
    return InputError(ref, absl::StrCat(*name, " is not a file (v5 contribution data is "
                                               "one JSON file)"));
  }
  absl::StatusOr<ojson> metadata = ReadContribMetadata(ref.path);
  if (!metadata.ok()) return InputError(ref, std::string(metadata.status().message()));
  if (metadata->is_null()) return std::optional<ContribShape>(ContribShape{});
  absl::StatusOr<ContribShape> shape = ContribShapeOf(*metadata, *name);
  if (!shape.ok()) return InputError(ref, std::string(shape.status().message()));
  return std::optional<ContribShape>(*std::move(shape));
}

absl::StatusOr<Inputs> ReadInputs(const Spec& spec) {
  Inputs in;
  if (Readable(spec.base_model)) {
    std::error_code ec;
    std::string name = Display(spec, spec.base_model.path);
    if (!fs::is_directory(spec.base_model.path, ec)) {
      return InputError(spec.base_model,
                        absl::StrCat(name, " is not a folder (base_model is a safetensors "
                                           "checkpoint folder with config.json)"));
    }
    absl::StatusOr<ModelShape> shape = ReadModelShape(spec.base_model.path);
    if (!shape.ok()) return InputError(spec.base_model, std::string(shape.status().message()));
    in.model = *std::move(shape);
    in.model_name = Display(spec, in.model->config_path);
  }
  COHORT_ASSIGN_OR_RETURN(in.contrib, ReadContrib(spec, spec.contrib, &in.contrib_name));
  return in;
}

// ---------------------------------------------------------------------------
// The checks.

// The shape a contribution file (`ref`, shown as `name`) declares against
// the model's.
absl::Status CheckShape(const InputRef& ref, const std::string& name, const ContribShape& c,
                        const Inputs& in) {
  if (in.model) {
    const ModelShape& m = *in.model;
    if (c.experts > 0 && m.experts > 0 && c.experts != m.experts) {
      return InputError(ref, absl::StrCat(name, " declares metadata.num_experts = ", c.experts,
                                          ", but the model has ", m.experts,
                                          " experts per layer (", in.model_name, ": ",
                                          m.experts_key, " = ", m.experts, ")"));
    }
    if (c.layers > 0 && m.layers > 0) {
      if (m.moe_layers_known && c.layers != m.layers) {
        return InputError(ref, absl::StrCat(
            name, " declares metadata.num_layers = ", c.layers, ", but the model has ",
            m.layers, " MoE layers (", in.model_name, ": num_hidden_layers = ", m.layers,
            ", every layer MoE)"));
      }
      if (!m.moe_layers_known && c.layers > m.layers) {
        return InputError(ref, absl::StrCat(
            name, " declares metadata.num_layers = ", c.layers, ", more than the model's ",
            m.layers, " layers (", in.model_name, ": num_hidden_layers = ", m.layers, "; ",
            m.dense_hint, ")"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status CheckV4Data(const Spec& spec, const Inputs& in) {
  std::string name;
  COHORT_ASSIGN_OR_RETURN(std::optional<ContribShape> v4, ReadContrib(spec, spec.v4_data, &name));
  if (!v4) return absl::OkStatus();
  COHORT_RETURN_IF_ERROR(CheckShape(spec.v4_data, name, *v4, in));
  if (!in.contrib) return absl::OkStatus();
  const ContribShape& v5 = *in.contrib;
  for (const auto& [field, mine, theirs] :
       {std::tuple<const char*, int64_t, int64_t>{"num_experts", v4->experts, v5.experts},
        {"num_layers", v4->layers, v5.layers}}) {
    if (mine > 0 && theirs > 0 && mine != theirs) {
      return InputError(spec.v4_data, absl::StrCat(name, " declares metadata.", field, " = ",
                                                   mine, ", but ", in.contrib_name,
                                                   " (contrib) declares ", theirs));
    }
  }
  return absl::OkStatus();
}

absl::Status VariantError(const Where& where, const Variant& v, const std::string& what) {
  return absl::InvalidArgumentError(
      absl::StrCat(where.Prefix(), "variant '", v.name, "': ", what));
}

absl::Status CheckVariant(const Variant& v, const Inputs& in) {
  using spec_internal::PairWhere;
  using spec_internal::ParamWhere;
  const json& dm = v.recipe["dropmap"];
  // Experts per layer: the model's, else what the contribution file declares.
  int64_t experts = -1;
  std::string experts_from;
  if (in.model && in.model->experts > 0) {
    experts = in.model->experts;
    experts_from = absl::StrCat(in.model_name, ": ", in.model->experts_key, " = ", experts);
  } else if (in.contrib && in.contrib->experts > 0) {
    experts = in.contrib->experts;
    experts_from = absl::StrCat(in.contrib_name, ": metadata.num_experts = ", experts);
  }
  if (dm.contains("target") && dm["target"].is_number_integer()) {
    int64_t target = dm["target"].get<int64_t>();
    if (target < 1) {
      return VariantError(ParamWhere(v, "dropmap.target"), v,
                          absl::StrCat("target ", target, " is below 1 (experts kept per "
                                       "layer)"));
    }
    if (experts > 0 && target > experts) {
      return VariantError(ParamWhere(v, "dropmap.target"), v,
                          absl::StrCat("target ", target, " is above the ", experts,
                                       " experts per layer (", experts_from, ")"));
    }
    if (dm.contains("protect_top") && dm["protect_top"].get<int64_t>() > target) {
      return VariantError(PairWhere(v, "dropmap.protect_top", "dropmap.target"), v,
                          absl::StrCat("protect_top ", dm["protect_top"].get<int64_t>(),
                                       " exceeds target ", target));
    }
  }
  // The classes the generator uses: --classes, else the file's categories.
  std::vector<std::string> classes;
  std::string classes_from;
  const std::optional<std::vector<std::string>> categories =
      in.contrib ? in.contrib->categories : std::nullopt;
  if (dm.contains("classes")) {
    for (const json& c : dm["classes"]) classes.push_back(c.get<std::string>());
    classes_from = "dropmap.classes";
    if (categories) {
      for (const std::string& c : classes) {
        if (std::find(categories->begin(), categories->end(), c) == categories->end()) {
          return VariantError(
              ParamWhere(v, "dropmap.classes"), v,
              absl::StrCat("class '", c, "' is not a category of ", in.contrib_name,
                           " (metadata.categories: ", absl::StrJoin(*categories, ", "), ")"));
        }
      }
    }
  } else if (categories) {
    classes = *categories;
    classes_from = absl::StrCat(in.contrib_name, ": metadata.categories = ",
                                absl::StrJoin(classes, ", "));
  } else {
    return absl::OkStatus();
  }
  for (const char* weights : {"class_weights", "protect_class_weights"}) {
    if (!dm.contains(weights) || dm[weights].size() == classes.size()) continue;
    const std::string param = absl::StrCat("dropmap.", weights);
    return VariantError(PairWhere(v, param, "dropmap.classes"), v,
                        absl::StrCat(dm[weights].size(), " ", weights, " for ",
                                     classes.size(), " classes (", classes_from, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ojson> ReadContribMetadata(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": cannot open: ",
                                                   std::strerror(errno)));
  }
  ByteReader in(file, path);
  SkipSpace(in);
  if (in.Get() != '{') return in.Error("not a JSON object");
  for (bool first = true;; first = false) {
    SkipSpace(in);
    int c = in.Get();
    if (c == '}' && first) return ojson();
    if (c != '"') return in.Error("expected a key");
    std::string key;
    COHORT_RETURN_IF_ERROR(ScanString(in, &key));
    key.pop_back();  // the closing quote
    SkipSpace(in);
    if (in.Get() != ':') return in.Error("expected ':'");
    SkipSpace(in);
    if (key == "metadata") {
      std::string text;
      COHORT_RETURN_IF_ERROR(ScanValue(in, &text));
      std::string clean = WithoutPythonNumbers(text);
      COHORT_RETURN_IF_ERROR(CheckJsonDepth(clean, path + ": metadata"));
      ojson parsed = ojson::parse(clean, nullptr, /*allow_exceptions=*/false);
      if (parsed.is_discarded()) {
        return absl::InvalidArgumentError(absl::StrCat(path, ": \"metadata\" is not valid JSON"));
      }
      return parsed;
    }
    COHORT_RETURN_IF_ERROR(ScanValue(in, nullptr));
    SkipSpace(in);
    c = in.Get();
    if (c == '}') return ojson();
    if (c != ',') return in.Error("expected ',' or '}'");
  }
}

absl::StatusOr<ContribShape> ContribShapeOf(const ojson& metadata, const std::string& source) {
  ContribShape out;
  if (!metadata.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": metadata is not an object"));
  }
  for (const auto& [field, slot] :
       {std::pair<const char*, int64_t*>{"num_experts", &out.experts},
        {"num_layers", &out.layers}}) {
    if (!metadata.contains(field) || metadata[field].is_null()) continue;
    const ojson& v = metadata[field];
    // int(x) as the generator reads it: floats truncate.
    if (v.is_number_integer() || v.is_number_unsigned()) {
      *slot = v.get<int64_t>();
    } else if (v.is_number_float() && v.get<double>() >= 1 && v.get<double>() < 1e9) {
      *slot = static_cast<int64_t>(v.get<double>());
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": metadata.", field, " = ", v.dump(), " is not a positive number"));
    }
    if (*slot < 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": metadata.", field, " = ", v.dump(), " is not a positive number"));
    }
  }
  if (metadata.contains("categories") && !metadata["categories"].is_null()) {
    const ojson& cats = metadata["categories"];
    std::vector<std::string> names;
    if (cats.is_object()) {
      for (const auto& [name, unused] : cats.items()) names.push_back(name);
    } else if (cats.is_array()) {
      for (const ojson& c : cats) {
        if (!c.is_string()) {
          names.clear();
          break;
        }
        names.push_back(c.get<std::string>());
      }
      if (names.size() != cats.size()) {
        return absl::InvalidArgumentError(absl::StrCat(
            source, ": metadata.categories is not a list of class names"));
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": metadata.categories is neither a list of class names nor an object"));
    }
    out.categories = std::move(names);
  }
  return out;
}

absl::StatusOr<ModelShape> ReadModelShape(const std::string& folder) {
  ModelShape out;
  out.config_path = (fs::path(folder) / "config.json").string();
  std::error_code ec;
  if (!fs::is_regular_file(out.config_path, ec)) {
    return absl::InvalidArgumentError(absl::StrCat(
        out.config_path, " does not exist (a checkpoint folder has a config.json)"));
  }
  uintmax_t size = fs::file_size(out.config_path, ec);
  if (ec || size > kMaxConfigBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(out.config_path, ": unreadable or larger than 64 MiB"));
  }
  COHORT_ASSIGN_OR_RETURN(std::string text, ReadFileToString(out.config_path));
  COHORT_RETURN_IF_ERROR(CheckJsonDepth(text, out.config_path));
  ojson config = ojson::parse(text, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded() || !config.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(out.config_path, ": not a JSON object"));
  }
  constexpr const char* kCountKeys[] = {"num_experts", "num_local_experts",
                                        "n_routed_experts", "moe_num_experts"};
  const ojson empty = ojson::object();
  const ojson& text_config =
      config.contains("text_config") && config["text_config"].is_object() ? config["text_config"]
                                                                         : empty;
  const ojson* scope = nullptr;
  for (const auto& [object, prefix] :
       {std::pair<const ojson*, const char*>{&config, ""}, {&text_config, "text_config."}}) {
    for (const char* key : kCountKeys) {
      if (std::optional<int64_t> n = PositiveInt(*object, key)) {
        out.experts = *n;
        out.experts_key = absl::StrCat(prefix, key);
        scope = object;
        break;
      }
    }
    if (scope != nullptr) break;
  }
  const ojson& other = scope == &text_config ? config : text_config;
  if (scope == nullptr) scope = &config;
  if (std::optional<int64_t> n = PositiveInt(*scope, "num_hidden_layers")) {
    out.layers = *n;
  } else if (std::optional<int64_t> m = PositiveInt(other, "num_hidden_layers")) {
    out.layers = *m;
  }
  for (const ojson* object : {scope, &other}) {
    if (std::optional<std::string> hint = DenseHint(*object)) {
      out.moe_layers_known = false;
      out.dense_hint = *hint;
      break;
    }
  }
  return out;
}

absl::Status ResolveClassWeightMaps(Spec& spec) {
  using spec_internal::ParamWhere;
  bool any = false;
  for (const Variant& v : spec.variants) {
    for (const char* w : {"class_weights", "protect_class_weights"}) {
      any |= v.recipe["dropmap"].contains(w) && v.recipe["dropmap"][w].is_object();
    }
  }
  if (!any) return absl::OkStatus();
  COHORT_ASSIGN_OR_RETURN(Inputs in, ReadInputs(spec));
  for (Variant& v : spec.variants) {
    json& dm = v.recipe["dropmap"];
    for (const char* w : {"class_weights", "protect_class_weights"}) {
      if (!dm.contains(w) || !dm[w].is_object()) continue;
      const std::string param = absl::StrCat("dropmap.", w);
      std::vector<std::string> classes;
      if (dm.contains("classes")) {
        for (const json& c : dm["classes"]) classes.push_back(c.get<std::string>());
      } else if (in.contrib && in.contrib->categories) {
        classes = *in.contrib->categories;
      } else {
        return VariantError(ParamWhere(v, param), v,
                            absl::StrCat(w, " by class name needs the classes' order: "
                                         "dropmap.classes, or metadata.categories in ",
                                         in.contrib_name.empty() ? "the contribution file"
                                                                 : in.contrib_name));
      }
      json list = json::array();
      for (const std::string& c : classes) {
        if (!dm[w].contains(c)) {
          return VariantError(ParamWhere(v, param), v,
                              absl::StrCat("no weight for class '", c, "' (classes: ",
                                           absl::StrJoin(classes, ", "), ")"));
        }
        list.push_back(dm[w][c]);
      }
      for (const auto& [name, value] : dm[w].items()) {
        if (std::find(classes.begin(), classes.end(), name) == classes.end()) {
          return VariantError(ParamWhere(v, param), v,
                              absl::StrCat("'", name, "' is not a class (classes: ",
                                           absl::StrJoin(classes, ", "), ")"));
        }
      }
      dm[w] = list;
    }
  }
  return absl::OkStatus();
}

absl::Status CheckSpecAgainstInputs(const Spec& spec) {
  COHORT_ASSIGN_OR_RETURN(Inputs in, ReadInputs(spec));
  if (in.contrib) COHORT_RETURN_IF_ERROR(CheckShape(spec.contrib, in.contrib_name, *in.contrib, in));
  COHORT_RETURN_IF_ERROR(CheckV4Data(spec, in));
  for (const Variant& v : spec.variants) COHORT_RETURN_IF_ERROR(CheckVariant(v, in));
  return absl::OkStatus();
}

}  // namespace cohort::client
