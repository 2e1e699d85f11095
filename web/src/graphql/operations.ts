// Every GraphQL operation the SPA sends, in one place. `graphql()` is generated from
// schema.graphql by GraphQL Code Generator (npm run codegen): each document below gets its
// result and variable types, and a field the schema no longer has fails the build.
import { graphql } from './generated';

export const MoneyFields = graphql(`
  fragment MoneyFields on Money {
    amount
    minorUnits
    currency
    formatted
  }
`);

export const PaymentFields = graphql(`
  fragment PaymentFields on Payment {
    id
    userId
    status
    description
    amount { ...MoneyFields }
    amountRefunded { ...MoneyFields }
    cardBrand
    cardLast4
    failureCode
    failureMessage
    disputed
    createdAt
    updatedAt
    refunds {
      id
      status
      reason
      amount { ...MoneyFields }
      createdAt
    }
  }
`);

export const SubscriptionFields = graphql(`
  fragment SubscriptionFields on Subscription {
    id
    status
    isActive
    cancelAtPeriodEnd
    currentPeriodEnd
    daysUntilRenewal
    trialEnd
    endedAt
    createdAt
    quantity
    cancellationReason
    discount {
      promotionCode
      end
      coupon { name percentOff amountOff { ...MoneyFields } duration durationInMonths }
    }
    price {
      id
      productId
      currency
      nickname
      unitAmount { ...MoneyFields }
      recurring { interval intervalCount }
    }
  }
`);

export const ViewerQuery = graphql(`
  query Viewer {
    viewer { id email isAdmin }
  }
`);

export const ProductsQuery = graphql(`
  query Products {
    products {
      id
      name
      description
      features
      allowsMultipleSubscriptions
      prices {
        id
        type
        currency
        nickname
        unitAmount { ...MoneyFields }
        recurring { interval intervalCount trialPeriodDays }
      }
    }
  }
`);

export const PaymentsQuery = graphql(`
  query Payments($first: Int!, $after: String) {
    payments(first: $first, after: $after) {
      edges { cursor node { ...PaymentFields } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

export const PaymentUpdatedSubscription = graphql(`
  subscription PaymentUpdated {
    paymentUpdated { ...PaymentFields }
  }
`);

export const CreatePaymentIntentMutation = graphql(`
  mutation CreatePaymentIntent($input: CreatePaymentIntentInput!) {
    createPaymentIntent(input: $input) {
      clientSecret
      payment { ...PaymentFields }
    }
  }
`);

export const SubscriptionsQuery = graphql(`
  query Subscriptions {
    subscriptions { ...SubscriptionFields }
  }
`);

export const SubscriptionUpdatedSubscription = graphql(`
  subscription SubscriptionUpdated {
    subscriptionUpdated { ...SubscriptionFields }
  }
`);

export const CreateSubscriptionMutation = graphql(`
  mutation CreateSubscription($input: CreateSubscriptionInput!) {
    createSubscription(input: $input) {
      clientSecret
      subscription { ...SubscriptionFields }
    }
  }
`);

export const CancelSubscriptionMutation = graphql(`
  mutation CancelSubscription($input: CancelSubscriptionInput!) {
    cancelSubscription(input: $input) { ...SubscriptionFields }
  }
`);

export const ResumeSubscriptionMutation = graphql(`
  mutation ResumeSubscription($subscriptionId: ID!) {
    resumeSubscription(subscriptionId: $subscriptionId) { ...SubscriptionFields }
  }
`);

export const CheckPromotionCodeQuery = graphql(`
  query CheckPromotionCode($code: String!, $priceId: ID!, $quantity: Int) {
    checkPromotionCode(code: $code, priceId: $priceId, quantity: $quantity) {
      valid
      reason
      message
      amountBeforeDiscount { ...MoneyFields }
      amountAfterDiscount { ...MoneyFields }
      discount { promotionCode coupon { name percentOff amountOff { ...MoneyFields } duration durationInMonths } }
    }
  }
`);

export const PreviewSubscriptionChangeQuery = graphql(`
  query PreviewSubscriptionChange($input: SubscriptionChangeInput!) {
    previewSubscriptionChange(input: $input) {
      id
      quantity
      prorationDate
      expiresAt
      amountDue { ...MoneyFields }
      nextInvoiceTotal { ...MoneyFields }
      lines {
        description
        quantity
        proration
        periodStart
        periodEnd
        amount { ...MoneyFields }
      }
    }
  }
`);

export const ChangeSubscriptionMutation = graphql(`
  mutation ChangeSubscription($input: ChangeSubscriptionInput!) {
    changeSubscription(input: $input) { ...SubscriptionFields }
  }
`);

export const ChangeSubscriptionPriceMutation = graphql(`
  mutation ChangeSubscriptionPrice($input: ChangeSubscriptionPriceInput!) {
    changeSubscriptionPrice(input: $input) { ...SubscriptionFields }
  }
`);

export const PaymentMethodsQuery = graphql(`
  query PaymentMethods {
    viewer {
      id
      paymentMethods { id stripePaymentMethodId brand last4 expMonth expYear isDefault type }
    }
  }
`);

export const CreateSetupIntentMutation = graphql(`
  mutation CreateSetupIntent {
    createSetupIntent { clientSecret }
  }
`);

export const AttachPaymentMethodMutation = graphql(`
  mutation AttachPaymentMethod($paymentMethodId: String!) {
    attachPaymentMethod(paymentMethodId: $paymentMethodId) { id }
  }
`);

export const SetDefaultPaymentMethodMutation = graphql(`
  mutation SetDefaultPaymentMethod($paymentMethodId: String!) {
    setDefaultPaymentMethod(paymentMethodId: $paymentMethodId) { id isDefault }
  }
`);

export const DetachPaymentMethodMutation = graphql(`
  mutation DetachPaymentMethod($paymentMethodId: String!) {
    detachPaymentMethod(paymentMethodId: $paymentMethodId)
  }
`);

export const RefundPaymentMutation = graphql(`
  mutation RefundPayment($input: RefundPaymentInput!) {
    refundPayment(input: $input) { id status paymentId amount { ...MoneyFields } }
  }
`);

export const RevenueQuery = graphql(`
  query Revenue($from: DateTime, $to: DateTime) {
    revenue(from: $from, to: $to) {
      currency
      gross { ...MoneyFields }
      refunded { ...MoneyFields }
      disputesLost { ...MoneyFields }
      net { ...MoneyFields }
      discounts { ...MoneyFields }
      mrr { ...MoneyFields }
    }
  }
`);

export const AdminPaymentsQuery = graphql(`
  query AdminPayments($first: Int!, $after: String) {
    adminPayments(first: $first, after: $after) {
      edges { cursor node { ...PaymentFields } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

export const WebhookEventsQuery = graphql(`
  query WebhookEvents($status: WebhookEventStatus, $first: Int!) {
    webhookEvents(status: $status, first: $first) {
      totalCount
      edges { node { ...WebhookEventFields } }
    }
  }
`);

export const PaymentQuery = graphql(`
  query Payment($id: ID!) {
    payment(id: $id) { ...PaymentFields }
  }
`);

export const WebhookEventFields = graphql(`
  fragment WebhookEventFields on WebhookEvent {
    id
    stripeEventId
    type
    status
    attempts
    lastError
    createdAt
    receivedAt
    processedAt
  }
`);

export const ReplayWebhookEventMutation = graphql(`
  mutation ReplayWebhookEvent($id: ID!) {
    replayWebhookEvent(id: $id) { ...WebhookEventFields }
  }
`);

export const AdminSubscriptionsQuery = graphql(`
  query AdminSubscriptions {
    adminSubscriptions {
      id
      userId
      status
      quantity
      cancelAtPeriodEnd
      cancellationReason
      cancellationComment
      discount { promotionCode }
      price { id nickname unitAmount { ...MoneyFields } recurring { interval intervalCount } }
    }
  }
`);

export const InvoicesQuery = graphql(`
  query Invoices($first: Int, $after: String) {
    invoices(first: $first, after: $after) {
      edges {
        cursor
        node {
          id
          number
          status
          createdAt
          periodStart
          periodEnd
          hostedInvoiceUrl
          invoicePdf
          subtotal { ...MoneyFields }
          discountTotal { ...MoneyFields }
          tax { ...MoneyFields }
          total { ...MoneyFields }
          amountPaid { ...MoneyFields }
          amountRemaining { ...MoneyFields }
          lines { description quantity proration periodStart periodEnd amount { ...MoneyFields } }
        }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
`);
