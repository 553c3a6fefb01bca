# syntax=docker/dockerfile:1
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
# The client module is required through a local replace (./client): its
# go.mod must be there before the download.
COPY client/go.mod client/go.sum ./client/
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/tenant-service ./cmd/tenant-service \
 && mkdir -p /out/state

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tenant-service /tenant-service
# The development keys' directory, owned by the nonroot user, so a volume
# mounted here starts writable (docker-compose.yml mounts one).
COPY --from=build --chown=65532:65532 /out/state /var/lib/tenant-service
EXPOSE 3007
USER nonroot
ENTRYPOINT ["/tenant-service"]
CMD ["serve"]
