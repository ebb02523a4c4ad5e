import { Title } from '@mantine/core';

export default function NetworksPage() {
  return <Title order={2}>Networks</Title>;
}
