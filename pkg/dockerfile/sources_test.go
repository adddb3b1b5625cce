package dockerfile

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// ADD of a URL ends with the build's context: a server that never answers
// does not hang the build (the download took no context before).
func TestDownloadEndsWithTheBuild(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := download(ctx, srv.URL+"/file", t.TempDir(), "")
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want the context's end", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the download ignored the build's context")
	}
}
