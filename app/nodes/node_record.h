#pragma once
// A node as the workbench stores it and hands it to its launcher plugin: the local machine
// ("local", always present), an SSH host, or a Slurm cluster reached through its login host.
// Part of the launcher SDK (docs/workbench.md): a plain record, no store code behind it.

#include <QJsonObject>
#include <QString>
#include <optional>

namespace bcd::nodes {

struct NodeRecord {
    qint64 id = 0;
    QString name;
    QString kind; // "local" | "ssh" | "slurm"
    QString host; // ssh: the host; slurm: the cluster's login host
    int port = 22;
    QString user;
    QString identity;   // private key file; empty: the SSH agent and ~/.ssh's default keys
    QString knownHosts; // empty: ~/.ssh/known_hosts
    QString engine;     // engine path on the node; empty: bcd-train on PATH, else uploaded
    QString runRoot;    // folder of the node's runs (slurm: shared by the cluster's nodes); empty:
                        // the default (docs/workbench.md)
    std::optional<double> pricePerHour;
    QJsonObject probe; // the last probe (nodes/node_probe.h), empty when never probed
    double probedAt = 0;
    double createdAt = 0;
    QJsonObject jobDefaults; // slurm: the job defaults (nodes/slurm_job.h), empty otherwise
};

} // namespace bcd::nodes
