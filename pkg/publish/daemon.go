package publish

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/gantry-build/gantry/pkg/archive"
	"github.com/gantry-build/gantry/pkg/images"
	"github.com/google/go-containerregistry/pkg/name"
)

// daemonClient is an HTTP client for the Docker or Podman engine at
// DOCKER_HOST (default the usual socket), and the base URL to call.
func daemonClient() (client *http.Client, base, host string, err error) {
	host = os.Getenv("DOCKER_HOST")
	if host == "" {
		host = "unix:///var/run/docker.sock"
	}
	u, err := url.Parse(host)
	if err != nil {
		return nil, "", host, fmt.Errorf("DOCKER_HOST %q is not a URL", host)
	}
	client = &http.Client{}
	base = "http://docker"
	switch u.Scheme {
	case "unix":
		sock := u.Path
		client.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}
	case "tcp", "http":
		base = "http://" + u.Host
	default:
		return nil, "", host, fmt.Errorf("DOCKER_HOST %q: only unix:// and tcp:// engines are supported", host)
	}
	return client, base, host, nil
}

// pingDaemon asks the engine whether it is there (GET /_ping).
func pingDaemon(ctx context.Context) error {
	client, base, host, err := daemonClient()
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/_ping", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("no Docker or Podman engine answers at %s (%v): start one or set DOCKER_HOST", host, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the engine at %s answered /_ping with %s", host, resp.Status)
	}
	return nil
}

// loadIntoDaemon streams a docker archive into POST /images/load of the
// Docker or Podman engine at DOCKER_HOST.
func loadIntoDaemon(ctx context.Context, img images.Artifact, tags []name.Tag) (string, error) {
	client, base, host, err := daemonClient()
	if err != nil {
		return host, err
	}
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(archive.Save(pw, []archive.Item{item(img, tags)}, archive.SaveOptions{}))
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/images/load?quiet=1", pr)
	if err != nil {
		return host, err
	}
	req.Header.Set("Content-Type", "application/x-tar")
	resp, err := client.Do(req)
	if err != nil {
		pr.CloseWithError(err)
		return host, fmt.Errorf("no Docker or Podman engine answers at %s (%v): start one or set DOCKER_HOST", host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return host, fmt.Errorf("the engine at %s refused the image: %s %s", host, resp.Status, strings.TrimSpace(string(b)))
	}
	// The answer is a stream of JSON messages; an error arrives as one.
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var msg struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(sc.Bytes(), &msg) == nil && msg.Error != "" {
			return host, fmt.Errorf("the engine at %s: %s", host, msg.Error)
		}
	}
	return host, sc.Err()
}
