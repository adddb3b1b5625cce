//go:build linux

package userns

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

// reexec runs gantry again in a new user namespace, writes its id maps
// with the setuid helpers, lets it go and waits for it.
func reexec(p plan) (int, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Env = append(os.Environ(), stateEnv+"=wait")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{r} // fd 3
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER, Pdeathsig: syscall.SIGKILL}
	// Signals sent to this process are the child's to handle: it cleans up.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	go func() {
		for s := range sigs {
			cmd.Process.Signal(s)
		}
	}()
	r.Close()
	pid := strconv.Itoa(cmd.Process.Pid)
	uid, gid := strconv.Itoa(os.Getuid()), strconv.Itoa(os.Getgid())
	maps := [][]string{
		{p.newuidmap, pid, "0", uid, "1", "1", strconv.Itoa(p.uids.Start), strconv.Itoa(p.uids.Count)},
		{p.newgidmap, pid, "0", gid, "1", "1", strconv.Itoa(p.gids.Start), strconv.Itoa(p.gids.Count)},
	}
	for _, m := range maps {
		if out, err := exec.Command(m[0], m[1:]...).CombinedOutput(); err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			w.Close()
			return 0, fmt.Errorf("%s: %v: %s", m[0], err, strings.TrimSpace(string(out)))
		}
	}
	w.Close() // go
	// From here on the child runs the command: whatever happens, this
	// process must not run it a second time.
	err = cmd.Wait()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		if st, ok := ee.Sys().(syscall.WaitStatus); ok && st.Signaled() {
			return 128 + int(st.Signal()), nil
		}
		return ee.ExitCode(), nil
	case err != nil:
		fmt.Fprintln(os.Stderr, "gantry:", err)
		return 1, nil
	}
	return 0, nil
}

// becomeRoot runs in the child: once the parent has written the maps (it
// closes fd 3), exec gantry again, as root of the namespace with its
// capabilities (the first exec ran before the maps and lost them).
func becomeRoot() error {
	f := os.NewFile(3, "userns-sync")
	io.Copy(io.Discard, f)
	f.Close()
	if b, err := os.ReadFile("/proc/self/uid_map"); err != nil || len(strings.TrimSpace(string(b))) == 0 {
		return errors.New("entering a user namespace: the id maps were not written")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	env := append([]string{stateEnv + "=1"}, withoutState(os.Environ())...)
	return syscall.Exec(self, os.Args, env)
}
