#pragma once
// Changing a node's settings, its price included, for the Nodes page and `bcd-workbench node
// price` alike (docs/workbench.md "Cost"). A new price applies to new runs and, from their
// current elapsed time, to the node's active runs (starting, queued, running) that took the node's
// price at launch; runs that are over, and runs launched with their own price, keep theirs.
// Clearing a price leaves every run's schedule as it is.

#include "store/run_store.h"

namespace bcd::store {

struct RunPriceChange {
    qint64 runId = 0;
    QString name;
    double fromElapsed = 0; // the run's newest stored elapsed seconds (0 before its first step)
    double pricePerHour = 0;
};

struct NodePriceChange {
    QString node;
    std::optional<double> before, after; // the node's price per hour
    bool connectionChanged = false;      // host, port, user, identity or known_hosts
    QVector<RunPriceChange> runs;        // active runs that got the new price
    bool priceChanged() const { return before != after; }
};

// Stores `node`'s settings (RunStore::updateNode) and applies a changed price to its active runs,
// in one transaction. A multi-node run that includes the node gets the sum of its nodes' prices
// when every node has one, else (as at launch) its first node's price when that is the node.
// Throws StoreError (an unknown node, a negative price).
NodePriceChange saveNodeSettings(RunStore& store, const NodeRecord& node);

// What the change means, in one sentence: "Price $2.10/h applies to new runs and, from now, to the
// 2 active runs on gpu-4090 (#12, #14); finished runs keep their cost." Empty when the price did
// not change.
QString describe(const NodePriceChange& change);

} // namespace bcd::store
