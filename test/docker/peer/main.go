// Command peer is both ends of the Docker tests' traffic, a static binary
// that runs in an image with nothing else in it.
//
//	peer serve [-tcp PORT,…] [-udp PORT,…] [-for DURATION]
//	                                      listen, and log every arrival
//	peer dial tcp|udp HOST:PORT TOKEN     connect, send TOKEN, await "ok TOKEN"
//	peer sendto HOST:PORT TOKEN           one unconnected UDP datagram
//
// The server writes one line to stdout per thing that reaches it — an
// accepted connection ("tcp PORT accept PEER"), the token it carried ("tcp
// PORT data TOKEN"), a datagram ("udp PORT data TOKEN") — so the tests read,
// from the server's side, whether a connection arrived, not from the
// client's word. It answers "ok TOKEN" so the client can tell success too.
//
// serve exits after DURATION if one is given, so that a server whose test
// run was killed before it could remove it does not outlive it for long.
//
// dial exits 0 when the answer came back, and 1 with the error on stdout
// otherwise (a denied connect reads "… connect: permission denied").
package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// timeout bounds every network wait of the client, so a lost packet is a
// failure rather than a hang.
const timeout = 5 * time.Second

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch args := os.Args[2:]; os.Args[1] {
	case "serve":
		err = serve(args)
	case "dial":
		if len(args) != 3 {
			usage()
		}
		err = dial(args[0], args[1], args[2])
	case "sendto":
		if len(args) != 2 {
			usage()
		}
		err = sendto(args[0], args[1])
	default:
		usage()
	}
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: peer serve [-tcp PORT,...] [-udp PORT,...] [-for DURATION] | peer dial tcp|udp HOST:PORT TOKEN | peer sendto HOST:PORT TOKEN")
	os.Exit(2)
}

// logMu keeps the server's lines whole when handlers write at once.
var logMu sync.Mutex

func logf(format string, a ...any) {
	logMu.Lock()
	defer logMu.Unlock()
	fmt.Printf(format+"\n", a...)
}

func serve(args []string) error {
	var tcpPorts, udpPorts []string
	lifetime := make(<-chan time.Time) // never, unless -for
	for len(args) >= 2 {
		switch args[0] {
		case "-tcp":
			tcpPorts = append(tcpPorts, strings.Split(args[1], ",")...)
		case "-udp":
			udpPorts = append(udpPorts, strings.Split(args[1], ",")...)
		case "-for":
			d, err := time.ParseDuration(args[1])
			if err != nil {
				return err
			}
			lifetime = time.After(d)
		default:
			usage()
		}
		args = args[2:]
	}
	if len(args) != 0 {
		usage()
	}
	for _, p := range tcpPorts {
		ln, err := net.Listen("tcp", ":"+p)
		if err != nil {
			return err
		}
		go acceptLoop(ln, p)
	}
	for _, p := range udpPorts {
		pc, err := net.ListenPacket("udp", ":"+p)
		if err != nil {
			return err
		}
		go udpLoop(pc, p)
	}
	// Ready only once every socket listens: the tests wait for this line.
	logf("listening")
	<-lifetime
	return nil
}

func acceptLoop(ln net.Listener, port string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			logf("tcp %s accept error %v", port, err)
			return
		}
		logf("tcp %s accept %v", port, c.RemoteAddr())
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(timeout))
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				logf("tcp %s read error %v", port, err)
				return
			}
			token := strings.TrimSpace(line)
			logf("tcp %s data %s", port, token)
			fmt.Fprintf(c, "ok %s\n", token)
		}()
	}
}

func udpLoop(pc net.PacketConn, port string) {
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			logf("udp %s read error %v", port, err)
			return
		}
		token := strings.TrimSpace(string(buf[:n]))
		logf("udp %s data %s from %v", port, token, from)
		pc.WriteTo([]byte("ok "+token+"\n"), from)
	}
}

func dial(network, addr, token string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := new(net.Dialer).DialContext(ctx, network, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := fmt.Fprintf(c, "%s\n", token); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("no answer: %w", err)
	}
	if got, want := strings.TrimSpace(line), "ok "+token; got != want {
		return fmt.Errorf("answer %q, want %q", got, want)
	}
	fmt.Println("ok", token)
	return nil
}

// sendto sends one datagram from an unconnected socket, the path a
// connect-only check would miss.
func sendto(addr, token string) error {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return err
	}
	pc, err := net.ListenPacket("udp", ":0")
	if err != nil {
		return err
	}
	defer pc.Close()
	if _, err := pc.WriteTo([]byte(token+"\n"), ua); err != nil {
		return err
	}
	fmt.Println("sent", token)
	return nil
}
