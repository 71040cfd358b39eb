"""Platform helpers that are pure functions."""

from queuectl import platform

MOUNTINFO = [
    "22 1 252:0 / / rw,relatime shared:1 - ext4 /dev/vda rw",
    "40 22 0:35 / /mnt/share rw,relatime shared:20 - nfs4 server:/export rw,vers=4.2",
    "41 40 0:36 / /mnt/share/local rw shared:21 - ext4 /dev/vdb rw",
    "42 22 0:37 / /home/me/with\\040space rw - cifs //srv/x rw",
]


def test_the_deepest_mount_holding_a_path_decides():
    assert platform.mount_type("/var/lib/q.db", MOUNTINFO) == "ext4"
    assert platform.mount_type("/mnt/share/q.db", MOUNTINFO) == "nfs4"
    assert platform.mount_type("/mnt/share/local/q.db", MOUNTINFO) == "ext4"
    assert platform.mount_type("/mnt/shared/q.db", MOUNTINFO) == "ext4"  # not /mnt/share
    assert platform.mount_type("/home/me/with space/q.db", MOUNTINFO) == "cifs"


def test_network_file_systems_are_named():
    assert {"nfs4", "cifs", "fuse.sshfs"} <= set(platform.NETWORK_FILESYSTEMS)
    assert platform.network_filesystem("/tmp/anything.db") is None  # local on this machine
