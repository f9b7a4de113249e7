// The converter's Python, probed with stand-in module folders on its path:
// every import the converter needs, the float8 dtypes, the test shim.
#include "worker/exec/converter_probe.h"

#include <sys/stat.h>

#include <filesystem>

#include "common/atomic_file.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::worker {
namespace {

using ::cohort::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ConverterProbeTest : public ::testing::Test {
 protected:
  // A python3 that sees only `modules` (name -> source) besides the
  // standard library, and a llama.cpp folder with gguf-py/gguf.
  std::string Python(const std::map<std::string, std::string>& modules) {
    std::string lib = dir_.Join("lib");
    mkdir(lib.c_str(), 0755);
    for (const auto& [name, source] : modules) {
      EXPECT_OK(WriteFileAtomically(lib + "/" + name + ".py", source));
    }
    std::string python = dir_.Join("python");
    EXPECT_OK(WriteFileAtomically(
        python, "#!/bin/sh\nPYTHONNOUSERSITE=1 PYTHONPATH='" + lib +
                    "' exec /usr/bin/python3 -S \"$@\"\n"));
    chmod(python.c_str(), 0755);
    return python;
  }

  std::string Script() {
    std::string llama = dir_.Join("llama.cpp");
    mkdir(llama.c_str(), 0755);
    mkdir((llama + "/gguf-py").c_str(), 0755);
    mkdir((llama + "/gguf-py/gguf").c_str(), 0755);
    EXPECT_OK(WriteFileAtomically(llama + "/gguf-py/gguf/__init__.py", ""));
    // Like the real script: its imports run before argparse answers --help.
    EXPECT_OK(WriteFileAtomically(
        llama + "/convert_hf_to_gguf.py",
        "import sys, os\n"
        "sys.path.insert(1, os.path.join(os.path.dirname(__file__), 'gguf-py'))\n"
        "import torch, numpy, transformers, gguf\n"
        "torch.float8_e4m3fn\n"
        "print('usage: convert_hf_to_gguf.py')\n"));
    return llama + "/convert_hf_to_gguf.py";
  }

  TempDir dir_;
};

TEST_F(ConverterProbeTest, ACompletePythonIsUsable) {
  ConverterProbe p = ProbeConverterPython(
      Python({{"torch", "__version__ = '2.4.0'\nfloat8_e4m3fn = object()\n"},
              {"numpy", ""},
              {"sentencepiece", ""},
              {"transformers", "__version__ = '4.50.0'\n"}}),
      Script());
  EXPECT_TRUE(p.usable) << p.problem;
  EXPECT_THAT(p.Summary(), HasSubstr("torch 2.4.0"));
  EXPECT_THAT(p.Summary(), HasSubstr("transformers 4.50.0"));
}

TEST_F(ConverterProbeTest, NamesWhatIsMissingAndTheOldTorch) {
  ConverterProbe p = ProbeConverterPython(
      Python({{"torch", "__version__ = '1.13.0'\n"}, {"numpy", ""}}), Script());
  EXPECT_FALSE(p.usable);
  EXPECT_THAT(p.missing, ElementsAre("sentencepiece", "transformers",
                                     "float8 dtypes (torch >= 2.1)"));
  EXPECT_THAT(p.problem, HasSubstr("lacks sentencepiece, transformers, float8 dtypes"));
  EXPECT_THAT(p.problem, HasSubstr("No module named 'transformers'"));  // the script's own error
  EXPECT_THAT(p.problem, HasSubstr("COHORT_PYTHON"));
}

// A converter that needs less than the real one (the test fake, a future
// llama.cpp) is usable when it starts; what it did not need is a note.
TEST_F(ConverterProbeTest, TheScriptsOwnStartDecides) {
  std::string fake = dir_.Join("fake_convert.py");
  ASSERT_OK(WriteFileAtomically(fake, "import json\nprint('usage')\n"));
  ConverterProbe p = ProbeConverterPython(Python({}), fake);
  EXPECT_TRUE(p.usable) << p.problem;
  EXPECT_THAT(p.Summary(), HasSubstr("no torch"));
}

TEST_F(ConverterProbeTest, WithoutGgufPyTheConverterCannotRun) {
  std::string python = Python({{"torch", "float8_e4m3fn = 1\n"},
                               {"numpy", ""},
                               {"sentencepiece", ""},
                               {"transformers", ""}});
  std::string script = Script();
  std::filesystem::remove_all(std::filesystem::path(script).parent_path() / "gguf-py");
  ConverterProbe p = ProbeConverterPython(python, script);
  EXPECT_FALSE(p.usable);
  EXPECT_THAT(p.missing, ElementsAre("gguf"));
  EXPECT_THAT(p.problem, HasSubstr("No module named 'gguf'"));
}

TEST_F(ConverterProbeTest, TheTestShimIsUsableAndSaidSo) {
  ConverterProbe p = ProbeConverterPython(
      Python({{"torch", "__version__ = '1.13.0'\n"},
              {"numpy", ""},
              {"sentencepiece", ""},
              {"transformers",
               "import torch\nSHIM = True\ntorch.float8_e4m3fn = object()\n"}}),
      Script());
  EXPECT_TRUE(p.usable) << p.problem;
  EXPECT_THAT(p.Summary(), HasSubstr("test shim"));
}

TEST_F(ConverterProbeTest, APythonThatDoesNotRunIsAProblem) {
  ConverterProbe p = ProbeConverterPython(dir_.Join("no-such-python"), Script());
  EXPECT_FALSE(p.usable);
  EXPECT_THAT(p.problem, HasSubstr("did not answer an import check"));
}

}  // namespace
}  // namespace cohort::worker
