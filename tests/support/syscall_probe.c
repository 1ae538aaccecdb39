/* Tries each named call once and prints "<name> <result>": OK, or the errno's name.
 *
 * Built static at test time (tests/support/syscall_probe.py) and run inside containers
 * to see what their seccomp filter lets through. Where the kernel allows a call, the
 * arguments make it fail harmlessly with an errno of its own (EFAULT for an unreadable
 * pointer, EINVAL for unknown flags, EBADF for fd -1), checked before any capability, so
 * EPERM can only come from the filter. The exceptions are noted: pivot_root, fsopen,
 * fsmount, fspick and move_mount check CAP_SYS_ADMIN first, so without it they are
 * EPERM either way.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define BAD ((const char *)1) /* an address no process can read: EFAULT */
#define BAD_FLAGS 0x80000000u /* a flag no call knows: EINVAL */

static long forked(long pid) {
    if (pid == 0)
        _exit(0);
    if (pid > 0)
        waitpid((pid_t)pid, NULL, __WALL);
    return pid < 0 ? -1 : 0;
}

static long clone_flags(unsigned long flags) {
    return forked(syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0));
}

static long clone3_plain(void) {
    uint64_t args[8] = {0}; /* struct clone_args, version 0: flags 0 */
    args[4] = SIGCHLD;      /* exit_signal */
    return forked(syscall(SYS_clone3, args, sizeof args));
}

/* unshare changes the caller's namespaces: try it in a child, which reports its errno. */
static long unshare_in_child(int flags) {
    pid_t pid = fork();
    int status = 0;
    if (pid == 0)
        _exit(unshare(flags) < 0 ? errno : 0);
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return -1;
    errno = WEXITSTATUS(status);
    return errno ? -1 : 0;
}

static long socket_of(int family, int type) {
    int fd = socket(family, type, 0);
    if (fd >= 0)
        close(fd);
    return fd < 0 ? -1 : 0;
}

static long probe(const char *name) {
    if (!strcmp(name, "clone"))
        return clone_flags(0);
    if (!strcmp(name, "clone-newuser"))
        return clone_flags(CLONE_NEWUSER);
    if (!strcmp(name, "clone3"))
        return clone3_plain();
    if (!strcmp(name, "unshare-newuser"))
        return unshare_in_child(CLONE_NEWUSER);
    if (!strcmp(name, "keyctl")) /* KEYCTL_GET_KEYRING_ID of the session keyring */
        return syscall(SYS_keyctl, 0, -3, 0) < 0 ? -1 : 0;
    if (!strcmp(name, "add_key"))
        return syscall(SYS_add_key, BAD, BAD, NULL, 0, -2);
    if (!strcmp(name, "request_key"))
        return syscall(SYS_request_key, BAD, BAD, NULL, 0);
    if (!strcmp(name, "socket-inet"))
        return socket_of(AF_INET, SOCK_DGRAM);
    if (!strcmp(name, "socket-unix"))
        return socket_of(AF_UNIX, SOCK_STREAM);
    if (!strcmp(name, "socket-alg"))
        return socket_of(38, SOCK_SEQPACKET);
    if (!strcmp(name, "socket-vsock"))
        return socket_of(40, SOCK_STREAM);
    if (!strcmp(name, "mount")) /* the fs type is copied in first */
        return syscall(SYS_mount, NULL, NULL, BAD, 0, NULL);
    if (!strcmp(name, "umount2"))
        return syscall(SYS_umount2, "/", BAD_FLAGS);
    if (!strcmp(name, "setns"))
        return syscall(SYS_setns, -1, 0);
    if (!strcmp(name, "pivot_root")) /* CAP_SYS_ADMIN first */
        return syscall(SYS_pivot_root, BAD, BAD);
    if (!strcmp(name, "fsopen")) /* CAP_SYS_ADMIN first */
        return syscall(SYS_fsopen, BAD, BAD_FLAGS);
    if (!strcmp(name, "fsmount")) /* CAP_SYS_ADMIN first */
        return syscall(SYS_fsmount, -1, BAD_FLAGS, 0);
    if (!strcmp(name, "fsconfig"))
        return syscall(SYS_fsconfig, -1, 0, NULL, NULL, 0);
    if (!strcmp(name, "open_tree"))
        return syscall(SYS_open_tree, -1, BAD, BAD_FLAGS);
    if (!strcmp(name, "mount_setattr"))
        return syscall(SYS_mount_setattr, -1, BAD, BAD_FLAGS, NULL, 0);
    errno = 0;
    return -2;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        long result = probe(argv[i]);
        if (result == -2)
            printf("%s UNKNOWN\n", argv[i]);
        else
            printf("%s %s\n", argv[i], result < 0 ? strerrorname_np(errno) : "OK");
    }
    return 0;
}
