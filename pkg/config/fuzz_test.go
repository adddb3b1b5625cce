package config

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// --change is outside input: any text is refused or applied, never a
// crash, and an applied change leaves a config that marshals.
func FuzzApplyChanges(f *testing.F) {
	for _, seed := range []string{`CMD ["x"]`, "ENTRYPOINT x y", "ENV A=1 B=\"two words\"", "EXPOSE 80/tcp 53/udp",
		"LABEL a=b", "ONBUILD RUN x", "USER 1:2", "VOLUME [\"/v\"]", "WORKDIR rel", "STOPSIGNAL SIGTERM",
		"HEALTHCHECK --interval=5s --start-interval=1s CMD true", "HEALTHCHECK NONE", "RUN x", "FROM y", "# check=error=true\nCMD x", "CMD ${A:?}"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, change string) {
		cf := &v1.ConfigFile{Config: v1.Config{Env: []string{"A=1"}}}
		if err := ApplyChanges(cf, []string{change}, time.Unix(0, 0)); err != nil {
			return
		}
		b, err := json.Marshal(cf)
		if err != nil {
			t.Fatalf("%q left a config that does not marshal: %v", change, err)
		}
		if _, err := v1.ParseConfigFile(bytes.NewReader(b)); err != nil {
			t.Fatalf("%q left a config that does not parse: %v", change, err)
		}
	})
}
