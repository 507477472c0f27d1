// Package deploy is where the deployment files' checks live; it also hands
// one of them to Go code (VisibilityTuning, for the benchmark). The files
// themselves are the repository's Dockerfile and docker-compose.yml, and
// under deploy/ the scripts the compose stack mounts (PostgreSQL init SQL,
// Temporal schema set-up and visibility tuning, namespace set-up, the
// container health check).
//
// `go test ./deploy` loads docker-compose.yml with the Compose
// specification's own loader and asserts the stack's shape (services, pinned
// images, ports, environment, start-up order, health checks, scaling,
// volumes), reads the Dockerfile statically, and runs the health-check
// script. None of it needs a Docker engine. The package stays clear of the
// Temporal server so that it compiles quickly.
package deploy
