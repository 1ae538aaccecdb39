"""Networks: Docker's bridge, host and none drivers, DNS by name, published ports.

Terms and lifecycle:

    network    a named L2 segment with an IPv4 subnet (driver `bridge`), or one of the
               predefined `host` and `none`. Its bridge device exists on the host while
               the daemon runs (or while a container is attached), from `network create`
               to `network rm`.
    member     a container that asked for a network (`run --network`, `network
               connect`): a row that outlives the container's runs, like Docker's
               container config. Removing the container removes its rows.
    endpoint   a member while its container runs: a leased address, a veth pair whose
               host end is in the bridge and whose other end is `ethN` in the
               container's network namespace. `attach` makes them before the process
               starts, `detach` removes them after it ended.

    network create ──▶ bridge up ──▶ container start: netns, endpoints, DNS, ports
                                       │
                      network rm ◀──── container stop: ports, DNS, endpoints, netns

Every host device lamina makes starts with the instance's `Paths.device_prefix`, and
every firewall rule carries a comment naming the instance, so a restarted daemon can
find and remove what a crashed one left (`reconcile`).
"""

from lamina.networks.service import NetworkService

__all__ = ["NetworkService"]
