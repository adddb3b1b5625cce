package e2e

import (
	"bytes"
	b64 "encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

const (
	user     = "e2e-user"
	password = "s3cret-Pa55-e2e"
)

func noSecret(t *testing.T, outputs ...string) {
	t.Helper()
	for _, o := range outputs {
		if strings.Contains(o, password) {
			t.Fatalf("the password appears in output: %q", o)
		}
	}
}

func htpasswdRegistry(t *testing.T) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(file, []byte(user+":"+string(hash)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return startRegistry(t, fmt.Sprintf("auth: {htpasswd: {realm: e2e, path: %s}}\n", file))
}

func TestBasicAuthLoginLogout(t *testing.T) {
	host := htpasswdRegistry(t)
	copyBase(t, host+"/private/busybox:1", user, password)
	ref := host + "/private/busybox:1"
	e := newEnv(t)

	msg := e.gantryFails("pull", ref)
	if !strings.Contains(msg, "authentication required: run gantry login "+host) {
		t.Errorf("pull without credentials: %s", msg)
	}
	e.gantry("pull", baseRef("amd64"))
	msg = e.gantryFails("push", baseRef("amd64"), host+"/private/anon:1")
	if !strings.Contains(msg, "authentication required: run gantry login "+host) {
		t.Errorf("push without credentials: %s", msg)
	}
	const wrong = "Wr0ng-pa55word-e2e"
	out, stderr, err := e.run([]byte(wrong+"\n"), "login", host, "-u", user, "--password-stdin")
	if err == nil || !strings.Contains(stderr, "wrong username or password") || strings.Contains(out+stderr, wrong) {
		t.Errorf("login with a wrong password: %v %s%s", err, out, stderr)
	}
	if cfg, _ := os.ReadFile(filepath.Join(e.docker, "config.json")); strings.Contains(string(cfg), host) {
		t.Errorf("a failed login stored credentials:\n%s", cfg)
	}
	stdout, stderr, err := e.run([]byte(password+"\n"), "login", host, "-u", user, "--password-stdin")
	if err != nil || !strings.Contains(stdout, "Login Succeeded") {
		t.Fatalf("login: %v\n%s%s", err, stdout, stderr)
	}
	noSecret(t, stdout, stderr)
	cfg, _ := os.ReadFile(filepath.Join(e.docker, "config.json"))
	if !strings.Contains(string(cfg), host) {
		t.Errorf("config.json has no entry for %s:\n%s", host, cfg)
	}
	// Docker itself uses what gantry login stored.
	if _, err := dockerWith(e.docker, nil, "pull", ref); err != nil {
		t.Errorf("docker pull with gantry's login: %v", err)
	}
	t.Cleanup(func() { shErr("docker", "rmi", "-f", ref) })

	out = e.gantry("pull", ref)
	out2, stderr2, err := e.run(nil, "--progress", "plain", "push", ref, host+"/private/copy:1")
	if err != nil {
		t.Fatalf("push with login: %v\n%s", err, stderr2)
	}
	noSecret(t, out, out2, stderr2)

	if out := e.gantry("logout", host); !strings.Contains(out, "Removing login credentials for "+host) {
		t.Errorf("logout: %q", out)
	}
	if cfg, _ := os.ReadFile(filepath.Join(e.docker, "config.json")); strings.Contains(string(cfg), host) {
		t.Errorf("config.json still has %s after logout:\n%s", host, cfg)
	}
	e2 := newEnv(t)
	e2.docker = e.docker
	msg = e2.gantryFails("pull", ref)
	if !strings.Contains(msg, "authentication required") {
		t.Errorf("pull after logout: %s", msg)
	}
}

func TestCredentialsFromDockerConfig(t *testing.T) {
	host := htpasswdRegistry(t)
	copyBase(t, host+"/private/busybox:1", user, password)
	ref := host + "/private/busybox:1"

	t.Run("auths", func(t *testing.T) {
		e := newEnv(t)
		auth := b64.StdEncoding.EncodeToString([]byte(user + ":" + password))
		os.WriteFile(filepath.Join(e.docker, "config.json"), []byte(fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, auth)), 0o600)
		out := e.gantry("pull", ref)
		noSecret(t, out)
	})
	t.Run("docker login", func(t *testing.T) {
		e := newEnv(t)
		if out, err := dockerWith(e.docker, []byte(password), "login", "-u", user, "--password-stdin", host); err != nil {
			t.Fatalf("docker login: %v\n%s", err, out)
		}
		out := e.gantry("pull", ref)
		noSecret(t, out)
	})
	t.Run("credHelpers", func(t *testing.T) {
		e := newEnv(t)
		bin := t.TempDir()
		helper := fmt.Sprintf("#!/bin/sh\n[ \"$1\" = get ] || exit 1\ncat >/dev/null\necho '{\"ServerURL\":\"%s\",\"Username\":\"%s\",\"Secret\":\"%s\"}'\n", host, user, password)
		os.WriteFile(filepath.Join(bin, "docker-credential-e2e"), []byte(helper), 0o755)
		e.path = bin
		os.WriteFile(filepath.Join(e.docker, "config.json"), []byte(fmt.Sprintf(`{"credHelpers":{%q:"e2e"}}`, host)), 0o600)
		out := e.gantry("pull", ref)
		noSecret(t, out)
	})
}

// dockerWith runs the docker CLI with another configuration directory.
func dockerWith(config string, stdin []byte, args ...string) (string, error) {
	cmd := exec.Command("docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+config)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}
