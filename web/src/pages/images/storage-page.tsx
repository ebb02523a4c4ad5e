import { Title } from '@mantine/core';

export default function StoragePage() {
  return <Title order={2}>Storage</Title>;
}
