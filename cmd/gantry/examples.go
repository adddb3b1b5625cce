package main

import (
	"strings"

	"github.com/spf13/cobra"
)

// examples are the Examples sections of each verb's --help, by verb. They
// live here, apart from the verbs, so that addExamples can give them to
// every verb (build's included) in one place.
var examples = map[string]string{
	"pull": `  gantry pull busybox
  gantry pull --platform linux/arm64 docker.io/library/alpine:3.20
  gantry pull --all-platforms ghcr.io/org/app:1.2
  gantry pull -q registry.example.com/team/app:latest   # prints the name only`,
	"push": `  gantry push registry.example.com/team/app:1.2
  gantry push app:dev registry.example.com/team/app:1.2   # under another name
  gantry --insecure push 10.0.0.5:5000/app:1               # a plain-HTTP registry`,
	"images": `  gantry images
  gantry images -q                                   # image IDs only
  gantry images --format '{{.Repository}}:{{.Tag}}'
  gantry images --format '{{json .}}'
  gantry images --format json                        # one JSON array, for scripts`,
	"tag": `  gantry tag busybox registry.example.com/base/busybox:1
  gantry tag 0123456789ab app:release                # by image ID prefix`,
	"rmi": `  gantry rmi busybox
  gantry rmi app:1 app:2
  gantry rmi 0123456789ab                            # by image ID prefix`,
	"prune": `  gantry prune`,
	"executor": `  # kaniko's GitLab job, unchanged, in gantry's image:
  /kaniko/executor --context "${CI_PROJECT_DIR}" --dockerfile "${CI_PROJECT_DIR}/Dockerfile" \
    --destination "${CI_REGISTRY_IMAGE}:${CI_COMMIT_TAG}" --cache --cache-repo "${CI_REGISTRY_IMAGE}/cache"
  gantry executor --context dir:///workspace --destination registry.example.com/app:1 --digest-file /tmp/digest
  gantry executor --context tar:///workspace/ctx.tar.gz --no-push --tar-path /workspace/image.tar`,
	"inspect": `  gantry inspect busybox
  gantry inspect --format '{{.Config.Entrypoint}}' app:1
  gantry inspect --format '{{json .Config.Env}}' app:1
  gantry inspect --format '{{json .}}' app:1          # Docker's image inspect shape
  gantry inspect --remote --raw manifest docker.io/library/alpine:3.20`,
	"save": `  gantry save busybox > busybox.tar
  gantry save -o images.tar app:1 app:2
  gantry save -o app.tar.gz app:1                     # gzip-compressed
  gantry save --format oci -o app-oci.tar app:1`,
	"load": `  gantry load -i busybox.tar
  gantry load < images.tar
  docker save nginx | gantry load`,
	"login": `  gantry login registry.example.com                  # asks for user and password
  echo "$TOKEN" | gantry login -u ci --password-stdin registry.example.com`,
	"logout": `  gantry logout registry.example.com`,
	"build": `  gantry build -t app:1 .
  gantry build -f docker/Dockerfile -t registry.example.com/team/app:1 --push .
  gantry build --build-arg VERSION=1.2 --target runtime -t app:1 .
  gantry build --platform linux/amd64,linux/arm64 -t registry.example.com/app:1 --push .
  gantry build -q .                                   # prints the image ID only
  gantry build --progress plain -t app:1 . 2> build.log
  gantry build --from alpine:3.20 --add ./bin/app:/usr/local/bin/app --entrypoint '["/usr/local/bin/app"]' -t app:1`,
	"mutate": `  gantry mutate app:1 --env LOG=debug -t app:debug
  gantry mutate app:1 --change 'CMD ["serve", "--port", "80"]' -t app:serve`,
	"export": `  gantry export busybox > rootfs.tar
  gantry export -o rootfs.tar app:1
  gantry export --dir ./rootfs app:1`,
	"diff": `  gantry diff app:1 app:2
  gantry diff app:1                                   # what its top layer changed
  gantry diff busybox-working-container`,
	"import": `  gantry import rootfs.tar -t example/rootfs:1
  tar -C ./rootfs -c . | gantry import - --change 'CMD ["/bin/sh"]' -t example/rootfs:1`,
	"from": `  gantry from busybox
  gantry from --name work alpine:3.20`,
	"run": `  gantry run --rm busybox ls -la /
  gantry run --rm -it alpine:3.20 sh
  gantry run work apk add curl                        # in the working container "work"
  gantry run -e DEBUG=1 -w /src -v "$PWD:/src" work make`,
	"cp": `  gantry cp ./app work:/usr/local/bin/app
  gantry cp work:/etc/os-release .`,
	"config": `  gantry config work --entrypoint '["/usr/local/bin/app"]' --env PORT=80
  gantry config work --change 'EXPOSE 80'`,
	"commit": `  gantry commit work app:1
  gantry commit -m "add curl" --change 'CMD ["curl"]' work registry.example.com/tools/curl:1 --push`,
	"ps": `  gantry ps`,
	"rm": `  gantry rm work
  gantry rm $(gantry ps | awk 'NR>1 {print $1}')`,
	"version": `  gantry version
  gantry --version`,
}

// addExamples sets the Examples section of root's verbs from examples.
func addExamples(root *cobra.Command) {
	for _, c := range root.Commands() {
		if ex, ok := examples[c.Name()]; ok {
			c.Example = strings.TrimRight(ex, "\n")
		}
	}
}
