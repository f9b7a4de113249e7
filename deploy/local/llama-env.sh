# Sourced by demo.sh and test-real.sh: finds a real llama.cpp build and a
# Python that runs its converter. Sets LLAMA_TOOLS_WHY (empty when usable)
# and, when the Python lacks `transformers` or float8 dtypes (Debian 12's
# torch 1.13), puts the test shim tests/real/pyshim first on PYTHONPATH.
#
# COHORT_LLAMA_CPP_DIR: a llama.cpp checkout with convert_hf_to_gguf.py and
# gguf-py, and its built llama-server, llama-quantize and llama-imatrix (in
# the folder, build/bin or bin). COHORT_PYTHON: a Python with torch, numpy
# and sentencepiece (default python3).
llama_tools_check() {
  local llama="${COHORT_LLAMA_CPP_DIR:-}" tool d found missing
  if [ -z "$llama" ]; then
    LLAMA_TOOLS_WHY="COHORT_LLAMA_CPP_DIR is not set (a llama.cpp build; docs/real-tools.md)"
    return 1
  fi
  [ -f "$llama/convert_hf_to_gguf.py" ] || { LLAMA_TOOLS_WHY="no convert_hf_to_gguf.py in $llama"; return 1; }
  [ -d "$llama/gguf-py" ] || { LLAMA_TOOLS_WHY="no gguf-py in $llama"; return 1; }
  for tool in llama-server llama-quantize llama-imatrix; do
    found=""
    for d in "$llama" "$llama/build/bin" "$llama/bin"; do
      if [ -x "$d/$tool" ]; then found="$d/$tool"; break; fi
    done
    [ -n "$found" ] || { LLAMA_TOOLS_WHY="no $tool in $llama (nor build/bin, bin)"; return 1; }
  done
  COHORT_PYTHON="${COHORT_PYTHON:-python3}"
  if ! command -v "$COHORT_PYTHON" >/dev/null; then
    LLAMA_TOOLS_WHY="COHORT_PYTHON=$COHORT_PYTHON is not a command"
    return 1
  fi
  COHORT_PYTHON="$(command -v "$COHORT_PYTHON")"
  missing=$("$COHORT_PYTHON" -c '
import importlib.util as u
print(" ".join(m for m in ("torch", "numpy", "sentencepiece") if u.find_spec(m) is None))')
  if [ -n "$missing" ]; then
    LLAMA_TOOLS_WHY="$COHORT_PYTHON lacks $missing (the converter imports them; Debian: python3-torch python3-numpy python3-sentencepiece)"
    return 1
  fi
  if ! "$COHORT_PYTHON" -c 'import transformers, torch; torch.float8_e4m3fn' 2>/dev/null; then
    export PYTHONPATH="$ROOT/tests/real/pyshim${PYTHONPATH:+:$PYTHONPATH}"
    echo "llama.cpp: $COHORT_PYTHON has no transformers or no float8 dtypes: converting through the test shim tests/real/pyshim (SentencePiece families only)"
  fi
  export COHORT_PYTHON
  LLAMA_TOOLS_WHY=""
  return 0
}
