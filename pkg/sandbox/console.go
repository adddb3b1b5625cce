//go:build linux

package sandbox

// The command's pseudo-terminal (Spec.TTY) is made as runc makes a
// container's console: the child opens the sandbox's own /dev/pts/ptmx once
// it is mounted, sends the master to Run over a socket (SCM_RIGHTS), and
// makes the terminal its controlling terminal and its 0, 1 and 2 before the
// exec. Its name (/dev/pts/0) is one the command can open; a terminal of the
// host's devpts would name nothing inside.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// consoleFD is the child's end of the socket the master goes back on (Run's
// fourth ExtraFile, with TTY only).
const consoleFD = 5

// consoleSocket returns Run's end and the child's end of the socket the
// child sends the master on.
func consoleSocket() (parent int, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, nil, fmt.Errorf("a socket for the terminal: %w", err)
	}
	return fds[0], os.NewFile(uintptr(fds[1]), "sandbox-console"), nil
}

// takeConsole, in the child after the root switch, makes the command's
// terminal: a pseudo-terminal of the sandbox's devpts, sized, owned by the
// command's user (as runc gives it), its master sent to Run. Raw system
// calls, not os.OpenFile: Go would make the descriptors non-blocking, and
// the command's standard input with them.
func takeConsole(s childSpec) error {
	defer unix.Close(consoleFD)
	master, err := unix.Open("/dev/pts/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening /dev/pts/ptmx: %w", err)
	}
	defer unix.Close(master)
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil { // unlockpt
		return fmt.Errorf("unlocking the terminal: %w", err)
	}
	n, err := unix.IoctlGetInt(master, unix.TIOCGPTN) // ptsname
	if err != nil {
		return fmt.Errorf("naming the terminal: %w", err)
	}
	name := fmt.Sprintf("/dev/pts/%d", n)
	tty, err := unix.Open(name, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", name, err)
	}
	defer unix.Close(tty)
	if s.Size != (Winsize{}) {
		if err := unix.IoctlSetWinsize(tty, unix.TIOCSWINSZ, &unix.Winsize{Row: s.Size.Rows, Col: s.Size.Cols}); err != nil {
			return fmt.Errorf("sizing %s: %w", name, err)
		}
	}
	if err := unix.Fchown(tty, s.UID, -1); err != nil {
		return fmt.Errorf("giving %s to user %d: %w", name, s.UID, err)
	}
	if err := unix.Sendmsg(consoleFD, []byte{0}, unix.UnixRights(master), nil, 0); err != nil {
		return fmt.Errorf("handing the terminal to gantry: %w", err)
	}
	// The child leads a session of its own (Run's Setsid) and has no
	// terminal: this one becomes its controlling terminal, and its process
	// group the foreground one, to which Ctrl-C sends SIGINT.
	if err := unix.IoctlSetInt(tty, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("making %s the controlling terminal: %w", name, err)
	}
	for fd := 0; fd <= 2; fd++ {
		if err := unix.Dup3(tty, fd, 0); err != nil {
			return fmt.Errorf("making %s descriptor %d: %w", name, fd, err)
		}
	}
	return nil
}

// console is Run's side of the command's terminal.
type console struct {
	done chan struct{} // the output has ended (or there was no terminal)
	mu   sync.Mutex
	tty  *os.File // the master, once received
	err  error
}

// serveConsole receives the master on sock (closing sock) and serves it
// until the command's output ends: what stdin gives is typed into it, what
// the command writes goes to stdout, each size from resize is set on it.
// It returns at once.
func serveConsole(sock int, stdin io.Reader, stdout io.Writer, resize <-chan Winsize) *console {
	c := &console{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		master, err := receiveFD(sock)
		unix.Close(sock)
		if err != nil || master == nil { // nil: the child ended first and reports why
			c.err = err
			return
		}
		c.mu.Lock()
		c.tty = master
		c.mu.Unlock()
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			for {
				select {
				case ws := <-resize:
					setSize(master, ws)
				case <-stop:
					return
				}
			}
		}()
		if stdin != nil {
			// Not waited for: a read from the caller's terminal cannot be
			// cancelled, and Run returns when the command ends.
			go io.Copy(master, stdin)
		}
		// The master reads EIO once the last process holding the terminal
		// has gone: the command's output has ended.
		_, err = io.Copy(stdout, master)
		if err != nil && !errors.Is(err, unix.EIO) && !errors.Is(err, os.ErrClosed) {
			c.err = fmt.Errorf("the command's terminal: %w", err)
		}
	}()
	return c
}

// wait waits, after the command exited, for its output to end, and lets
// the terminal go. Cancelling ctx lets it go at once (a stdout nobody reads).
func (c *console) wait(ctx context.Context) error {
	select {
	case <-c.done:
	case <-ctx.Done():
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tty != nil {
		c.tty.Close()
	}
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// setSize sets the size of the terminal of master (through SyscallConn:
// Fd would make it blocking, and Close could no longer end a read).
func setSize(master *os.File, ws Winsize) {
	if rc, err := master.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) {
			unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: ws.Rows, Col: ws.Cols})
		})
	}
}

// receiveFD receives one descriptor on sock; nil, nil at the end of the
// stream.
func receiveFD(sock int) (*os.File, error) {
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
	for errors.Is(err, unix.EINTR) {
		n, oobn, _, _, err = unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
	}
	if err != nil {
		return nil, fmt.Errorf("receiving the terminal: %w", err)
	}
	if n == 0 && oobn == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("receiving the terminal: no descriptor came")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("receiving the terminal: no descriptor came")
	}
	// Non-blocking, so that Go's poller reads it and Close ends a read.
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		return nil, err
	}
	return os.NewFile(uintptr(fds[0]), "/dev/ptmx"), nil
}
