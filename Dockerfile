# Multi-stage image of the gateway: build wheels with the pinned dependency set, run as a non-root user.
# docker build -t edi-gateway . && docker run -p 8080:8080 -v gateway-data:/srv/gateway/var edi-gateway

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml constraints.txt README.md LICENSE ./
COPY gateway ./gateway
RUN pip wheel --no-cache-dir --wheel-dir /wheels -c constraints.txt .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 gateway
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels edi-gateway && rm -rf /wheels
WORKDIR /srv/gateway
COPY --chown=gateway:gateway config ./config
COPY --chown=gateway:gateway partners ./partners
COPY --chown=gateway:gateway mappings ./mappings
RUN mkdir -p var && chown gateway:gateway var
USER gateway
# Inside a container the API must listen on every interface; everything else comes from config/gateway.yaml.
ENV GATEWAY_API_HOST=0.0.0.0 GATEWAY_API_PORT=8080
VOLUME ["/srv/gateway/var"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/api/health', timeout=4).status != 200)"
CMD ["gateway", "serve"]
