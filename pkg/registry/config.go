package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Config is gantry's registry configuration, read from
// $XDG_CONFIG_HOME/gantry/config.json with the keys Docker's daemon.json uses.
type Config struct {
	// Mirrors are tried in order for Docker Hub images before Docker Hub itself.
	Mirrors []string `json:"registry-mirrors,omitempty"`
	// Insecure lists registries (host[:port] or CIDR) spoken to over plain HTTP.
	Insecure []string `json:"insecure-registries,omitempty"`
}

// ConfigPath is where LoadConfig looks by default.
func ConfigPath() string {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "gantry", "config.json")
}

// LoadConfig reads path; a missing file is an empty configuration.
func LoadConfig(path string) (Config, error) {
	var c Config
	if path == "" {
		return c, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("registry config: %w", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("registry config %s is not valid JSON: %w", path, err)
	}
	for _, m := range c.Mirrors {
		if _, err := parseMirror(m); err != nil {
			return c, fmt.Errorf("registry config %s: %w", path, err)
		}
	}
	return c, nil
}

// isInsecure reports whether host (host[:port]) is spoken to over plain HTTP:
// listed by name or by CIDR, or on a loopback address, as Docker does.
func (c Config) isInsecure(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	if ip != nil && ip.IsLoopback() {
		return true
	}
	for _, entry := range c.Insecure {
		entry = strings.TrimPrefix(strings.TrimPrefix(entry, "http://"), "https://")
		if entry == host || entry == h {
			return true
		}
		if _, cidr, err := net.ParseCIDR(entry); err == nil && ip != nil && cidr.Contains(ip) {
			return true
		}
	}
	return false
}

// mirror is one entry of registry-mirrors.
type mirror struct {
	host     string
	insecure bool
}

func parseMirror(s string) (mirror, error) {
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return mirror{}, fmt.Errorf("registry mirror %q is not a URL such as https://mirror.example.com", s)
	}
	if u.Path != "" && u.Path != "/" {
		return mirror{}, fmt.Errorf("registry mirror %q: a mirror must be a registry root, without a path", s)
	}
	return mirror{host: u.Host, insecure: u.Scheme == "http"}, nil
}
