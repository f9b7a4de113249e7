# cohortd image. Build from the repository root:
#   docker build -f deploy/docker/cohortd.Dockerfile -t cohortd:0.1.0 .
FROM debian:12 AS build
WORKDIR /src
COPY . .
RUN bash deploy/install-deps.sh \
 && cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOHORT_BUILD_TESTS=OFF \
 && cmake --build /build --target cohortd cohort

FROM debian:12-slim
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
      ca-certificates libgrpc++1.51 libgrpc29 libprotobuf32 libabsl20220623 libsqlite3-0 \
      libcurl4 libssl3 libspdlog1.10 libfmt9 libyaml-cpp0.7 libre2-9 libicu72 \
      zlib1g \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 cohort && useradd --uid 10001 --gid cohort --no-create-home cohort \
 && mkdir -p /var/lib/cohortd && chown cohort:cohort /var/lib/cohortd
COPY --from=build /build/bin/cohortd /build/bin/cohort /usr/local/bin/
USER cohort
VOLUME /var/lib/cohortd
EXPOSE 7400
ENTRYPOINT ["/usr/local/bin/cohortd"]
CMD ["--listen", "0.0.0.0:7400", "--state-dir", "/var/lib/cohortd", \
     "--tls-cert", "/etc/cohort/tls/tls.crt", "--tls-key", "/etc/cohort/tls/tls.key", \
     "--tls-client-ca", "/etc/cohort/tls/ca.crt", \
     "--log-format", "json"]
