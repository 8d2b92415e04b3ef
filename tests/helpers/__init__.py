"""What several test files share: corpora, example apps, the Node oracles and the shop's schemas."""
