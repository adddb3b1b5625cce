package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// hubAuthKey is the key Docker files Docker Hub credentials under.
const hubAuthKey = "https://index.docker.io/v1/"

// Login checks user and password against host and, if the registry accepts
// them, stores them where Docker would: the credsStore or credHelper that
// ~/.docker/config.json names for host, else the file itself.
func (c *Client) Login(ctx context.Context, host, user, password string) error {
	reg, err := c.parseRegistry(host)
	if err != nil {
		return err
	}
	auth := authn.FromConfig(authn.AuthConfig{Username: user, Password: password})
	if err := c.checkLogin(ctx, reg, auth); err != nil {
		return err
	}
	cf, err := config.Load(config.Dir())
	if err != nil {
		return fmt.Errorf("docker config: %w", err)
	}
	key := authKey(reg)
	store := cf.GetCredentialsStore(key)
	if err := store.Store(types.AuthConfig{ServerAddress: key, Username: user, Password: password}); err != nil {
		return fmt.Errorf("saving credentials for %s: %w", host, err)
	}
	return nil
}

// ErrNotLoggedIn is Logout's answer when there is nothing to forget; like
// docker logout, gantry reports it without failing.
var ErrNotLoggedIn = errors.New("not logged in")

// Logout forgets the credentials stored for host.
func (c *Client) Logout(host string) error {
	reg, err := c.parseRegistry(host)
	if err != nil {
		return err
	}
	cf, err := config.Load(config.Dir())
	if err != nil {
		return fmt.Errorf("docker config: %w", err)
	}
	key := authKey(reg)
	if _, ok := cf.AuthConfigs[key]; !ok && cf.CredentialsStore == "" && cf.CredentialHelpers[key] == "" {
		return ErrNotLoggedIn
	}
	if err := cf.GetCredentialsStore(key).Erase(key); err != nil {
		return fmt.Errorf("removing credentials for %s: %w", host, err)
	}
	return nil
}

func (c *Client) parseRegistry(host string) (name.Registry, error) {
	if host == "" || host == "docker.io" || host == hubAuthKey {
		host = name.DefaultRegistry
	}
	var opts []name.Option
	if c.Insecure(host) {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(host, opts...)
	if err != nil {
		return reg, fmt.Errorf("invalid registry %q: %w", host, err)
	}
	return reg, nil
}

func authKey(reg name.Registry) string {
	if reg.RegistryStr() == name.DefaultRegistry {
		return hubAuthKey
	}
	return reg.RegistryStr()
}

// checkLogin asks the registry's /v2/ endpoint with the credentials: a token
// registry hands out a token only to a valid user, a basic-auth registry
// answers 401 to a wrong password.
func (c *Client) checkLogin(ctx context.Context, reg name.Registry, auth authn.Authenticator) error {
	t, err := transport.NewWithContext(ctx, reg, auth, c.transport, nil)
	if err != nil {
		return loginError(reg, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s://%s/v2/", reg.Scheme(), reg.RegistryStr()), nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: t}).Do(req)
	if err != nil {
		return loginError(reg, err)
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return loginError(reg, err)
	}
	return nil
}

func loginError(reg name.Registry, err error) error {
	var te *transport.Error
	if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
		return fmt.Errorf("login to %s failed: wrong username or password", reg.RegistryStr())
	}
	if advice := plainHTTPAdvice(err, reg.RegistryStr()); advice != "" {
		return fmt.Errorf("login to %s failed: %s", reg.RegistryStr(), advice)
	}
	return fmt.Errorf("login to %s failed: %s", reg.RegistryStr(), firstLine(err.Error()))
}
