//go:build ignore

package foo
