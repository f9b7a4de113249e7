# cohort-worker image with llama.cpp built for CUDA. Build from the
# repository root:
#   docker build -f deploy/docker/cohort-worker.Dockerfile \
#     --build-arg LLAMA_CPP_REF=<commit> -t cohort-worker:0.1.0 .
# The llama.cpp commit is part of every step key (its build fingerprint), so
# pin it: a new image with another commit re-runs convert/quantize/bench.
ARG CUDA_VERSION=12.4.1

# 1. llama.cpp with CUDA: llama-server, llama-quantize, llama-imatrix and the
#    converter script with its Python requirements.
FROM nvidia/cuda:${CUDA_VERSION}-devel-ubuntu22.04 AS llama
ARG LLAMA_CPP_REF=master
ARG CUDA_ARCHITECTURES="80;86;89;90"
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends git cmake ninja-build build-essential \
      ca-certificates libcurl4-openssl-dev \
 && rm -rf /var/lib/apt/lists/*
RUN git clone https://github.com/ggml-org/llama.cpp /llama.cpp \
 && git -C /llama.cpp checkout "$LLAMA_CPP_REF"
RUN cmake -S /llama.cpp -B /llama.cpp/build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$CUDA_ARCHITECTURES" \
      -DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF \
 && cmake --build /llama.cpp/build --target llama-server llama-quantize llama-imatrix \
 && mkdir -p /opt/llama.cpp/bin /opt/llama.cpp/lib \
 && cp /llama.cpp/build/bin/llama-server /llama.cpp/build/bin/llama-quantize \
       /llama.cpp/build/bin/llama-imatrix /opt/llama.cpp/bin/ \
 && cp /llama.cpp/convert_hf_to_gguf.py /opt/llama.cpp/ \
 && cp -r /llama.cpp/gguf-py /llama.cpp/requirements /opt/llama.cpp/ \
 && cp /llama.cpp/requirements/requirements-convert_hf_to_gguf.txt /opt/llama.cpp/ \
 && cp -P /usr/local/cuda/lib64/libcudart.so* /usr/local/cuda/lib64/libcublas.so* \
       /usr/local/cuda/lib64/libcublasLt.so* /opt/llama.cpp/lib/ \
 && git -C /llama.cpp rev-parse HEAD > /opt/llama.cpp/BUILD_COMMIT

# 2. cohort-worker.
FROM debian:12 AS build
WORKDIR /src
COPY . .
RUN bash deploy/install-deps.sh \
 && cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOHORT_BUILD_TESTS=OFF \
 && cmake --build /build --target cohort-worker cohort

# 3. Runtime: Debian 12 with the code-bench toolchains and the sandbox; the
#    NVIDIA driver libraries come from the container toolkit at run time.
FROM debian:12-slim
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
      ca-certificates libgrpc++1.51 libgrpc29 libprotobuf32 libabsl20220623 libsqlite3-0 \
      libcurl4 libssl3 libspdlog1.10 libfmt9 libyaml-cpp0.7 libre2-9 libicu72 \
      zlib1g libgomp1 libseccomp2 bubblewrap util-linux python3 python3-venv python3-langdetect \
      rustc default-jdk-headless libjavatuples-java nodejs \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 cohort && useradd --uid 10001 --gid cohort --no-create-home cohort \
 && mkdir -p /var/lib/cohort-worker && chown cohort:cohort /var/lib/cohort-worker
COPY --from=llama /opt/llama.cpp /opt/llama.cpp
RUN python3 -m venv /opt/llama.cpp/venv \
 && /opt/llama.cpp/venv/bin/pip install --no-cache-dir \
      -r /opt/llama.cpp/requirements-convert_hf_to_gguf.txt
COPY --from=build /build/bin/cohort-worker /build/bin/cohort /usr/local/bin/
ENV LD_LIBRARY_PATH=/opt/llama.cpp/lib \
    COHORT_LLAMA_CPP_DIR=/opt/llama.cpp \
    COHORT_PYTHON=/opt/llama.cpp/venv/bin/python3 \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
USER cohort
VOLUME /var/lib/cohort-worker
EXPOSE 7401
ENTRYPOINT ["/usr/local/bin/cohort-worker"]
CMD ["run", "--help"]
