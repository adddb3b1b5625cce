package sandbox

import "errors"

// ErrNeedsLinux is what RUN, working containers and both isolations
// (sandbox and container) answer on other systems: a command runs in the
// Linux kernel's namespaces, over overlayfs. The text is one line that
// says what to do instead.
var ErrNeedsLinux = errors.New("RUN needs Linux (namespaces and overlayfs): build on Linux, or in gantry's image in a container")
