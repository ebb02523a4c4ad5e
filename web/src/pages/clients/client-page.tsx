import { Title } from '@mantine/core';

export default function ClientPage() {
  return <Title order={2}>Client</Title>;
}
