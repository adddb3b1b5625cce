package e2e

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startRegistry runs another docker-registry on a loopback port with extra
// configuration (auth) and returns its host:port.
func startRegistry(t *testing.T, extra string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	config := fmt.Sprintf(`version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: %s}, delete: {enabled: true}}
http: {addr: %s}
%s`, filepath.Join(dir, "data"), host, extra)
	path := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("docker-registry", "serve", path)
	cmd.Env = registryEnv()
	logf, _ := os.Create(filepath.Join(dir, "log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("docker-registry: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; i < 100; i++ {
		if resp, err := http.Get("http://" + host + "/v2/"); err == nil {
			resp.Body.Close()
			return host
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "log"))
	t.Fatalf("docker-registry on %s did not start:\n%s", host, b)
	return ""
}

// copyBase puts the amd64 base image into another registry with skopeo.
func copyBase(t *testing.T, dest string, creds ...string) {
	t.Helper()
	args := []string{"copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false"}
	if len(creds) == 2 {
		args = append(args, "--dest-creds", creds[0]+":"+creds[1])
	}
	args = append(args, "docker://"+baseRef("amd64"), "docker://"+dest)
	sh(t, "skopeo", args...)
}

// registryEnv is the environment without REGISTRY_* variables: distribution
// reads them as configuration (REGISTRY_AUTH_FILE, which skopeo uses for its
// credentials, would become auth.file).
func registryEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REGISTRY_") {
			env = append(env, kv)
		}
	}
	return env
}
