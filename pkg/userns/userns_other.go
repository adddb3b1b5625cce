//go:build !linux

package userns

import "errors"

// errNoUserNamespaces is why Enter goes on without a namespace: user
// namespaces are a Linux kernel feature. Enter never gets this far on
// other systems (there is no newuidmap), but the steps must still compile.
var errNoUserNamespaces = errors.New("user namespaces need Linux")

func reexec(plan) (int, error) { return 0, errNoUserNamespaces }

func becomeRoot() error { return errNoUserNamespaces }
