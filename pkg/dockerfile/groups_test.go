package dockerfile

import (
	"reflect"
	"testing"
)

// RUN's supplementary groups are BuildKit's (executor/oci GetUser and
// ensureAdditionalGids): the primary group first unless listed, then, when
// USER names no group, every /etc/group entry that lists the user by name;
// "uid:gid" and "user:group" bring only the primary group.
func TestRunSupplementaryGroups(t *testing.T) {
	root := t.TempDir()
	mkTree(t, root, map[string]string{
		"etc/passwd": "root:x:0:0::/root:/bin/sh\napp:x:1234:2345::/home/app:/bin/sh\nlone:x:1500:1500::/:/bin/sh\n",
		"etc/group":  "root:x:0:\nwheel:x:10:root,app\napp:x:2345:\ndocker:x:999:app\nother:x:77:lone2\n",
	}, nil)
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
