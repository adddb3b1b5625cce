package registry

import (
	"fmt"
	"strings"
)

// plainHTTPAdvice is what to do about a registry that answered gantry's
// HTTPS with plain HTTP (Go's net/http says only "server gave HTTP response
// to HTTPS client"), or "" for any other error.
func plainHTTPAdvice(err error, host string) string {
	if err == nil || !strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return ""
	}
	return fmt.Sprintf("registry %s speaks plain HTTP, not HTTPS: use --insecure for this call, or list it under \"insecure-registries\" in %s", host, ConfigPath())
}
