package publish

import "testing"

// -o is outside input: refused with an error or parsed into an output of a
// known type, never a crash.
func FuzzParseOutput(f *testing.F) {
	for _, seed := range []string{"out.tar", "type=docker,dest=x.tar", "type=oci,dest=d", "type=local,dest=d", "type=tar,dest=f",
		"type=daemon", "type=docker", `type=image,"name=a:1,b:2",push=true`, "type=registry", "type=registry,name=r.io/x:1",
		"type=cacheonly", "type=,dest=", `"`, "type=image,name=UPPER", "push=maybe"} {
		f.Add(seed)
	}
	known := map[string]bool{"docker": true, "oci": true, "local": true, "tar": true, "daemon": true, "image": true, "registry": true, "cacheonly": true}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := ParseOutput(s)
		if err != nil {
			return
		}
		if !known[o.Type] {
			t.Fatalf("%q parsed into type %q", s, o.Type)
		}
		if (o.Type == "oci" || o.Type == "local" || o.Type == "tar") && o.Dest == "" {
			t.Fatalf("%q: type %s without dest", s, o.Type)
		}
	})
}
