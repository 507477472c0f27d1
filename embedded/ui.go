package embedded

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/labstack/echo/v4"
	uiserver "github.com/temporalio/ui-server/v2/server"
	uiapi "github.com/temporalio/ui-server/v2/server/api"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uioptions "github.com/temporalio/ui-server/v2/server/server_options"
	"google.golang.org/grpc/metadata"
)

// webUI is a running Temporal Web UI server.
type webUI struct {
	srv  *uiserver.Server
	addr string        // dialable host:port
	done chan struct{} // closed when srv.Start has returned
}

// startUI serves the Web UI (assets embedded in ui-server) on addr, talking
// to the frontend at frontendAddr. It returns once the UI answers its health
// check.
//
// ui-server picks its own listener from a host and a port and, should it fail
// to bind, exits the process through echo's Logger.Fatal. A port 0 is
// therefore resolved here first and a fixed port is checked first; the
// remaining window between that check and the UI's bind is tiny.
//
// apiKey, when not empty, authenticates every call the UI makes to the
// frontend; the UI has no login of its own.
func startUI(ctx context.Context, addr, frontendAddr, namespace, apiKey string) (*webUI, error) {
	la, err := parseListenAddr(addr)
	if err != nil {
		return nil, err
	}
	if la, err = la.resolve(); err != nil {
		return nil, err
	}
	host := la.bindIP
	if ip := net.ParseIP(host); ip.To4() == nil {
		host = "[" + host + "]" // ui-server joins host and port with a plain ":"
	}

	opts := []uioptions.ServerOption{uioptions.WithConfigProvider(&uiconfig.Config{
		Host:                host,
		Port:                la.port,
		TemporalGRPCAddress: frontendAddr,
		EnableUI:            true,
		DefaultNamespace:    namespace,
		HideLogs:            true,
		// Nothing is fetched from the internet and no upgrade banner shown.
		DisableNewsFetch:   true,
		NotifyOnNewVersion: false,
		// Served over plain HTTP on a local address.
		CORS: uiconfig.CORS{CookieInsecure: true},
	})}
	if apiKey != "" {
		bearer := metadata.Pairs("authorization", bearerPrefix+apiKey)
		opts = append(opts, uioptions.WithAPIMiddleware([]uiapi.Middleware{
			func(echo.Context) runtime.ServeMuxOption {
				return runtime.WithMetadata(func(context.Context, *http.Request) metadata.MD { return bearer })
			},
		}))
	}
	srv := uiserver.NewServer(opts...)
	ui := &webUI{srv: srv, addr: la.dialAddr(), done: make(chan struct{})}
	go func() {
		defer close(ui.done)
		_ = srv.Start() // returns nil once Stop closes the server
	}()

	healthURL := "http://" + ui.addr + "/healthz"
	err = poll(ctx, 20*time.Millisecond, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, healthURL, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New("health check: " + strconv.Itoa(resp.StatusCode))
		}
		return nil
	})
	if err != nil {
		ui.stop()
		return nil, fmt.Errorf("wait for web UI on %s: %w", ui.addr, err)
	}
	return ui, nil
}

// stop closes the UI server and its connections and waits for it to exit.
func (ui *webUI) stop() {
	ui.srv.Stop()
	<-ui.done
}
