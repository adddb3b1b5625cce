package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tokenServer is a Docker token-auth server: valid users get what they ask
// for, anonymous clients may pull public/*.
type tokenServer struct {
	key  *ecdsa.PrivateKey
	cert []byte // DER
	url  string
}

func startTokenServer(t *testing.T) (*tokenServer, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e-token-issuer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// go-containerregistry refuses token realms on private IP literals (an
	// SSRF guard), so the realm names the host as localhost.
	ts := &tokenServer{key: key, cert: der, url: fmt.Sprintf("http://localhost:%d/token", l.Addr().(*net.TCPAddr).Port)}
	srv := &http.Server{Handler: http.HandlerFunc(ts.serve)}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return ts, bundle
}

type access struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

func (ts *tokenServer) serve(w http.ResponseWriter, r *http.Request) {
	u, p, hasAuth := r.BasicAuth()
	if hasAuth && (u != user || p != password) {
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}`, http.StatusUnauthorized)
		return
	}
	var granted []access
	for _, scope := range r.URL.Query()["scope"] {
		parts := strings.Split(scope, ":")
		if len(parts) != 3 {
			continue
		}
		var actions []string
		for _, a := range strings.Split(parts[2], ",") {
			if hasAuth || (a == "pull" && strings.HasPrefix(parts[1], "public/")) {
				actions = append(actions, a)
			}
		}
		granted = append(granted, access{Type: parts[0], Name: parts[1], Actions: actions})
	}
	now := time.Now()
	claims := map[string]any{
		"iss": "e2e-issuer", "sub": u, "aud": "e2e-registry", "exp": now.Add(5 * time.Minute).Unix(),
		"nbf": now.Add(-time.Minute).Unix(), "iat": now.Unix(), "jti": fmt.Sprint(now.UnixNano()), "access": granted,
	}
	token, err := ts.sign(claims)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"token": token, "access_token": token, "expires_in": 300})
}

// sign makes an ES256 JWT whose x5c header carries the certificate the
// registry trusts.
func (ts *tokenServer) sign(claims map[string]any) (string, error) {
	enc := base64.RawURLEncoding
	header, _ := json.Marshal(map[string]any{"typ": "JWT", "alg": "ES256", "x5c": []string{base64.StdEncoding.EncodeToString(ts.cert)}})
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	sum := sha256.Sum256([]byte(signing))
	r, s, err := ecdsa.Sign(rand.Reader, ts.key, sum[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signing + "." + enc.EncodeToString(sig), nil
}

func TestTokenAuth(t *testing.T) {
	ts, bundle := startTokenServer(t)
	host := startRegistry(t, fmt.Sprintf("auth: {token: {realm: %q, service: e2e-registry, issuer: e2e-issuer, rootcertbundle: %s}}\n", ts.url, bundle))

	e := newEnv(t)
	stdout, stderr, err := e.run([]byte(password+"\n"), "login", host, "-u", user, "--password-stdin")
	if err != nil {
		t.Fatalf("login: %v\n%s%s", err, stdout, stderr)
	}
	noSecret(t, stdout, stderr)
	// gantry pushes with the token it gets for its login.
	src := newEnv(t)
	src.gantry("pull", baseRef("amd64"))
	src.docker = e.docker
	out, stderr, err := src.run(nil, "push", baseRef("amd64"), host+"/public/busybox:1")
	if err != nil {
		t.Fatalf("push with a token: %v\n%s%s", err, out, stderr)
	}
	noSecret(t, out, stderr)
	src.gantry("push", baseRef("amd64"), host+"/private/busybox:1")

	// Anonymous clients get a pull token for public/ only.
	anon := newEnv(t)
	if out := anon.gantry("pull", host+"/public/busybox:1"); lastLine(out) != host+"/public/busybox:1" {
		t.Errorf("anonymous pull: %s", out)
	}
	msg := anon.gantryFails("pull", host+"/private/busybox:1")
	if !strings.Contains(msg, "authentication required") && !strings.Contains(msg, "access denied") {
		t.Errorf("anonymous pull of a private image: %s", msg)
	}
	// Anonymous clients may not push, even to public/.
	msg = anon.gantryFails("push", host+"/public/busybox:1", host+"/public/anon:1")
	if !strings.Contains(msg, "authentication required: run gantry login "+host) {
		t.Errorf("anonymous push: %s", msg)
	}
	// A logged-in client reads the private repository.
	reader := newEnv(t)
	reader.docker = e.docker
	if out := reader.gantry("pull", host+"/private/busybox:1"); lastLine(out) != host+"/private/busybox:1" {
		t.Errorf("pull of a private image with a login: %s", out)
	}

	_, stderr, err = anon.run([]byte("not-the-password\n"), "login", host, "-u", user, "--password-stdin")
	if err == nil || strings.Contains(stderr, "not-the-password") || !strings.Contains(stderr, "login to "+host+" failed") {
		t.Errorf("login with a wrong password: %v %q", err, stderr)
	}
}
