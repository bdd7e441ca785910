// Module path of the Go client and of the generated code (the proto's go_package portraitbridge.dev/go/profile/v1).
// The versions are the ones Debian 12 packages under /usr/share/gocode; generate.sh vendors them for offline builds
// (see clients/README.md).
module portraitbridge.dev/go

go 1.19

require (
	github.com/golang/protobuf v1.5.2
	google.golang.org/genproto v0.0.0-20200413115906-b5235f65be36
	google.golang.org/grpc v1.33.3
	google.golang.org/protobuf v1.28.1
)

require (
	golang.org/x/net v0.7.0 // indirect
	golang.org/x/sys v0.3.0 // indirect
	golang.org/x/text v0.7.0 // indirect
)
