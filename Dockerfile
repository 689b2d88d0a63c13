# syntax=docker/dockerfile:1
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/maopao ./cmd/maopao \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/maopao /usr/local/bin/maopao
COPY --from=build --chown=nonroot:nonroot /out/data /data
USER nonroot:nonroot
VOLUME /data
EXPOSE 8080
ENV MAOPAO_DATA=/data MAOPAO_ADDR=0.0.0.0:8080
ENTRYPOINT ["/usr/local/bin/maopao"]
CMD ["serve"]
