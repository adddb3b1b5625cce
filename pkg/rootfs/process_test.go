package rootfs

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// RUN's supplementary groups are BuildKit's (executor/oci GetUser and
// ensureAdditionalGids): the primary group first unless listed, then, when
// USER names no group, every /etc/group entry that lists the user by name;
// "uid:gid" and "user:group" bring only the primary group.
func TestRunSupplementaryGroups(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\napp:x:1234:2345::/home/app:/bin/sh\nlone:x:1500:1500::/:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte("# groups\nroot:x:0:\n\nwheel:x:10:root,app\napp:x:2345:\ndocker:x:999:app\nother:x:77:lone2\n"), 0o644)
	cases := []struct {
		spec string
		gid  int
		want []int
	}{
		{"app", 2345, []int{2345, 10, 999}},
		{"1234", 2345, []int{2345, 10, 999}}, // a uid of /etc/passwd: its name's groups
		{"app:docker", 999, []int{999}},
		{"1234:2345", 2345, []int{2345}},
		{"", 0, []int{0, 10}}, // root, listed in wheel
		{"lone", 1500, []int{1500}},
		{"4242", 0, []int{0}}, // no /etc/passwd entry
	}
	for _, c := range cases {
		if got := supplementaryGroups(root, c.spec, c.gid); !reflect.DeepEqual(got, c.want) {
			t.Errorf("USER %q: groups %v, want %v", c.spec, got, c.want)
		}
	}
}

// The process of a container: ids, groups, and PATH and HOME defaulted
// where the env has none, kept where it has them.
func TestProcessFor(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("app:x:1234:2345::/home/app:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte("docker:x:999:app\n"), 0o644)
	p, err := ProcessFor(root, "app", []string{"A=1"}, "/bin", true)
	if err != nil {
		t.Fatal(err)
	}
	want := Process{UID: 1234, GID: 2345, Groups: []int{2345, 999}, Env: []string{"A=1", "PATH=/bin", "HOME=/home/app"}}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("ProcessFor app: %+v, want %+v", p, want)
	}
	p, err = ProcessFor(root, "7", []string{"PATH=/x", "HOME=/h"}, "/bin", false)
	if err != nil {
		t.Fatal(err)
	}
	want = Process{UID: 7, GID: 0, Env: []string{"PATH=/x", "HOME=/h"}}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("ProcessFor 7 without groups: %+v, want %+v", p, want)
	}
	if _, err := ProcessFor(root, "nobody", nil, "/bin", true); err == nil {
		t.Error("an unknown user name resolved")
	}
}
